//! Everything the user sees: the `Printer` (stdout for data, stderr for talk), the progress
//! drawing and the error report. The library never prints on its own.

pub mod printer;
pub mod progress;
pub mod report;

pub use printer::Printer;
