//! The `Printer`: stdout carries data (a digest, a JSON document), stderr carries talk
//! (status lines, warnings, progress). `-q` silences talk but never errors or data.
//!
//! Nothing raw reaches the terminal: every piece of text written here to stderr, and the
//! human text written to stdout through [`Printer::text_out`], is escaped by
//! `ui::escape` (the one implementation; its doc gives the style) before the Printer
//! adds its own colors and line ends. Only machine data, [`Printer::data_line`] (a digest or a
//! serde-escaped JSON document), is written as given.
//!
//! Nothing else in the program writes to stdout or stderr. While a progress bar is drawn
//! ([`Printer::attach_live`]), every write steps around it: the bar is cleared, the line is
//! written, the bar is drawn again below it, so no line is torn and no stale frame stays.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::sync::{Arc, Mutex};

use super::escape::{escape, push_escaped};
use crate::cli::{ColorChoice, GlobalArgs, ProgressChoice};

/// Something drawn live on the terminal (the progress bar) that must step aside while the
/// Printer writes a line. Implemented in `ui::progress`, so only that module knows indicatif.
pub trait Live: Send + Sync {
    /// Clear what is drawn, run `write`, draw again.
    fn suspend(&self, write: &mut dyn FnMut());
}

/// The live drawing, shared by every clone of the Printer.
#[derive(Clone, Default)]
struct LiveSlot(Arc<Mutex<Option<Arc<dyn Live>>>>);

impl fmt::Debug for LiveSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attached = self.0.lock().map(|l| l.is_some()).unwrap_or(false);
        f.debug_struct("LiveSlot")
            .field("attached", &attached)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
    pub progress: ProgressChoice,
    live: LiveSlot,
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
            live: LiveSlot::default(),
        }
    }

    /// From now on, step around `live` (the progress bar) while writing.
    pub fn attach_live(&self, live: Arc<dyn Live>) {
        if let Ok(mut slot) = self.live.0.lock() {
            *slot = Some(live);
        }
    }

    /// Stop stepping around the live drawing (it is finished and cleared).
    pub fn detach_live(&self) {
        if let Ok(mut slot) = self.live.0.lock() {
            *slot = None;
        }
    }

    /// Run `write` with the live drawing, if any, cleared for the time it takes. The slot's
    /// lock is released before the bar's own lock is taken, so the two never nest.
    fn around_live<R>(&self, write: impl FnOnce() -> R) -> R {
        let live = self.live.0.lock().ok().and_then(|slot| slot.clone());
        match live {
            None => write(),
            Some(live) => {
                let mut write = Some(write);
                let mut result = None;
                live.suspend(&mut || {
                    if let Some(w) = write.take() {
                        result = Some(w());
                    }
                });
                // `suspend` runs its closure exactly once; should it not, write anyway.
                match (result, write) {
                    (Some(r), _) => r,
                    (None, Some(w)) => w(),
                    (None, None) => unreachable!("the write ran but gave no result"),
                }
            }
        }
    }

    /// One line on stderr, around the live drawing.
    fn line_to_stderr(&self, line: &str) -> io::Result<()> {
        self.around_live(|| {
            let mut err = io::stderr().lock();
            writeln!(err, "{line}")?;
            err.flush()
        })
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
        let _ = self.line_to_stderr(&format!("{verb} {}", escape(message)));
    }

    /// A question on stderr, escaped, with no line end: the answer is typed after it. Not
    /// silenced by `-q` (the program waits for the answer).
    pub fn prompt(&self, question: &str) -> io::Result<()> {
        self.around_live(|| {
            let mut err = io::stderr().lock();
            write!(err, "{}", escape(question))?;
            err.flush()
        })
    }

    /// Details shown only with `-v` (escaped).
    pub fn detail(&self, message: &str) {
        if self.verbose && !self.quiet {
            let _ = self.line_to_stderr(&escape(message));
        }
    }

    /// A `warning:` line (escaped), silenced by `-q`.
    pub fn warn(&self, message: &str) {
        if self.quiet {
            return;
        }
        let label = self.paint("1;33", "warning");
        let _ = self.line_to_stderr(&format!("{label}: {}", escape(message)));
    }

    /// The error report (never silenced): the message, each cause and the hint escaped, one
    /// line each.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>) {
        let mut text = format!("{}: {}", self.paint("1;31", "error"), escape(message));
        for c in causes {
            text.push_str(&format!("\n  Caused by: {}", escape(c)));
        }
        if let Some(h) = hint {
            text.push_str(&format!("\n{}: {}", self.paint("1;36", "hint"), escape(h)));
        }
        let _ = self.line_to_stderr(&text);
    }

    /// Data for stdout, written as given: a digest or a `--json` document (serde escapes
    /// its strings). Human text goes through [`Printer::text_out`] instead.
    pub fn data_line(&self, line: &str) -> io::Result<()> {
        self.around_live(|| {
            let mut out = io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()
        })
    }

    /// Data for stdout, byte for byte (no line end added): `inspect --raw` (the stored
    /// document) and `completions` (a generated script).
    pub fn data_raw(&self, bytes: &[u8]) -> io::Result<()> {
        self.around_live(|| {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        })
    }

    /// The result that would go to stdout, on stderr because stdout carries the image
    /// (`-o -`): a digest or a `--json` document, written as given with a line end. It is
    /// data, so `-q` does not silence it.
    pub fn data_to_stderr(&self, line: &str) -> io::Result<()> {
        self.line_to_stderr(line)
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
