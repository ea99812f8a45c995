//! Everything the user sees: the `Printer` (stdout for data, stderr for talk), the progress
//! drawing and the error report. The library never prints on its own. Untrusted text is
//! escaped in one place, `escape`, which the Printer applies to everything it writes as text.

pub mod escape;
pub mod printer;
pub mod progress;
pub mod report;

pub use escape::{escape, escape_bytes};
pub use printer::{Printer, TextOut};

/// A byte count for people: `113 B`, `38.2 MiB` (binary units, one decimal).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
