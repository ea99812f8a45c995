//! The `Printer`: stdout carries data (a digest, a JSON document), stderr carries talk
//! (status lines, warnings, progress). `-q` silences talk but never errors or data.

use std::io::{IsTerminal, Write};

use crate::cli::{ColorChoice, GlobalArgs, ProgressChoice};

#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
    pub progress: ProgressChoice,
}

impl Printer {
    pub fn from_args(g: &GlobalArgs) -> Printer {
        let stderr_tty = std::io::stderr().is_terminal();
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                    false
                } else if std::env::var_os("CLICOLOR_FORCE")
                    .is_some_and(|v| !v.is_empty() && v != "0")
                    || std::env::var_os("FORCE_COLOR").is_some_and(|v| !v.is_empty() && v != "0")
                {
                    true
                } else {
                    stderr_tty
                }
            }
        };
        Printer {
            quiet: g.quiet,
            verbose: g.verbose,
            color,
            progress: g.progress,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A cargo-style status line: a right-aligned verb, then the message.
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let verb = self.paint("1;32", &format!("{verb:>12}"));
        let _ = writeln!(std::io::stderr().lock(), "{verb} {message}");
    }

    /// Details shown only with `-v`.
    pub fn detail(&self, message: &str) {
        if self.verbose && !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    pub fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let label = self.paint("1;33", "warning");
        let _ = writeln!(std::io::stderr().lock(), "{label}: {message}");
    }

    /// The error report (never silenced).
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}: {message}", self.paint("1;31", "error"));
        for c in causes {
            let _ = writeln!(err, "  Caused by: {c}");
        }
        if let Some(h) = hint {
            let _ = writeln!(err, "{}: {h}", self.paint("1;36", "hint"));
        }
    }

    /// Data for stdout: one line.
    pub fn data_line(&self, line: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }
}
