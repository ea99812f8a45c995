//! Everything the user sees: the `Printer` (stdout for data, stderr for talk), the progress
//! drawing and the error report. The library never prints on its own. Untrusted text is
//! escaped in one place, `escape`, which the Printer applies to everything it writes as text.

pub mod escape;
pub mod printer;
pub mod progress;
pub mod report;

pub use escape::{escape, escape_bytes};
pub use printer::{Printer, TextOut};
