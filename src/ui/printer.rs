//! The `Printer`: stdout carries data (a digest, a JSON document), stderr carries talk
//! (status lines, warnings, progress). `-q` silences talk but never errors or data.
//!
//! Nothing raw reaches the terminal: every piece of text written here to stderr, and the
//! human text written to stdout through [`Printer::text_out`], is escaped by
//! [`super::escape`] (the one implementation; its doc gives the style) before the Printer
//! adds its own colors and line ends. Only machine data, [`Printer::data_line`] (a digest or a
//! serde-escaped JSON document), is written as given.

use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};

use super::escape::{escape, push_escaped};
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

    /// A cargo-style status line: a right-aligned verb, then the message (escaped).
    pub fn status(&self, verb: &str, message: &str) {
        if self.quiet {
            return;
        }
        let verb = self.paint("1;32", &format!("{:>12}", escape(verb)));
        let _ = writeln!(io::stderr().lock(), "{verb} {}", escape(message));
    }

    /// Details shown only with `-v` (escaped).
    pub fn detail(&self, message: &str) {
        if self.verbose && !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{}", escape(message));
        }
    }

    /// A `warning:` line (escaped), silenced by `-q`.
    pub fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let label = self.paint("1;33", "warning");
        let _ = writeln!(io::stderr().lock(), "{label}: {}", escape(message));
    }

    /// The error report (never silenced): the message, each cause and the hint escaped, one
    /// line each.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{}: {}", self.paint("1;31", "error"), escape(message));
        for c in causes {
            let _ = writeln!(err, "  Caused by: {}", escape(c));
        }
        if let Some(h) = hint {
            let _ = writeln!(err, "{}: {}", self.paint("1;36", "hint"), escape(h));
        }
    }

    /// Data for stdout, written as given: a digest or a `--json` document (serde escapes
    /// its strings). Human text goes through [`Printer::text_out`] instead.
    pub fn data_line(&self, line: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }

    /// A buffered writer of human text lines on stdout, each escaped: the inspect summary
    /// and the `--files` listing. Streams, so a listing of any length uses constant memory.
    pub fn text_out(&self) -> TextOut {
        TextOut {
            out: BufWriter::with_capacity(64 << 10, io::stdout().lock()),
            buf: String::new(),
        }
    }
}

/// Human text for stdout, one escaped line at a time (see [`Printer::text_out`]). Call
/// [`TextOut::finish`] to flush and see the last write error.
pub struct TextOut {
    out: BufWriter<StdoutLock<'static>>,
    /// Reused for each line, so the listing allocates once.
    buf: String,
}

impl TextOut {
    /// Write `text` as one line: escaped (an embedded newline shows as `\n`), then `\n`.
    pub fn line(&mut self, text: &str) -> io::Result<()> {
        self.line_bytes(text.as_bytes())
    }

    /// Write `bytes` (possibly not UTF-8, such as a tar entry's name) as one escaped line.
    pub fn line_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.clear();
        push_escaped(bytes, &mut self.buf);
        self.buf.push('\n');
        self.out.write_all(self.buf.as_bytes())
    }

    /// Flush what is buffered.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}
