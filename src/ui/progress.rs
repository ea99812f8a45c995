//! Drawing progress: an indicatif bar on a terminal (bytes of file content done of the
//! total, files, throughput, ETA, the current stage), one plain line per stage for CI logs,
//! or nothing. The only module that knows indicatif; the library only emits events.
//! What is drawn here is ours (stage names, byte and file counts), never text from an image;
//! anything from an image shown here would have to pass through `super::escape` first.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Printer;
use crate::cli::ProgressChoice;
use crate::progress::{NoProgress, Progress, Stage};

/// The progress display the printer's settings ask for: nothing with `-q`, `-v` (which
/// prints details instead) or `--progress never`; a bar only when stderr is a terminal.
pub fn for_printer(printer: &Printer) -> Box<dyn Progress> {
    if printer.quiet {
        return Box::new(NoProgress);
    }
    match printer.progress {
        ProgressChoice::Never => Box::new(NoProgress),
        ProgressChoice::Plain => Box::new(Plain::new()),
        ProgressChoice::Auto if printer.verbose || !std::io::stderr().is_terminal() => {
            Box::new(NoProgress)
        }
        ProgressChoice::Auto => Box::new(Bar::new()),
    }
}

/// A bar on stderr.
struct Bar {
    bar: ProgressBar,
    files: AtomicU64,
}

impl Bar {
    fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        Bar {
            bar,
            files: AtomicU64::new(0),
        }
    }
}

impl Progress for Bar {
    fn stage(&self, stage: Stage, total_bytes: Option<u64>) {
        match total_bytes {
            Some(total) => {
                self.bar.set_length(total);
                self.bar.set_position(0);
                self.bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12.cyan.bold} [{bar:30}] {bytes}/{total_bytes} {msg} {bytes_per_sec} ETA {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            None => {
                self.bar.set_style(
                    ProgressStyle::with_template("{prefix:>12.cyan.bold} {spinner} {bytes} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                self.bar.enable_steady_tick(Duration::from_millis(100));
            }
        }
        self.bar.set_prefix(stage_verb(stage));
        self.bar.set_message(String::new());
    }

    fn advance(&self, bytes: u64, files: u64) {
        if bytes > 0 {
            self.bar.inc(bytes);
        }
        if files > 0 {
            let n = self.files.fetch_add(files, Ordering::Relaxed) + files;
            if n % 64 == 0 {
                self.bar.set_message(format!("{n} files"));
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn stage_verb(stage: Stage) -> &'static str {
    match stage {
        Stage::Walking => "Walking",
        Stage::WritingLayer => "Layer",
        Stage::WritingImage => "Writing",
        Stage::ReadingLayers => "Reading",
        Stage::WritingRootfs => "Extracting",
        Stage::CopyingBlobs => "Copying",
    }
}

/// One line per stage with the time the previous one took, for logs.
struct Plain {
    current: Mutex<Option<(Stage, Instant)>>,
    bytes: AtomicU64,
    files: AtomicU64,
}

impl Plain {
    fn new() -> Plain {
        Plain {
            current: Mutex::new(None),
            bytes: AtomicU64::new(0),
            files: AtomicU64::new(0),
        }
    }

    fn end_stage(&self, current: &mut Option<(Stage, Instant)>) {
        if let Some((stage, started)) = current.take() {
            let mut line = format!(
                "imgbuild: {} done in {:.2} s",
                stage.name(),
                started.elapsed().as_secs_f64()
            );
            if matches!(stage, Stage::WritingLayer | Stage::WritingRootfs) {
                line.push_str(&format!(
                    " ({} files, {} bytes read)",
                    self.files.load(Ordering::Relaxed),
                    self.bytes.load(Ordering::Relaxed)
                ));
            }
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

impl Progress for Plain {
    fn stage(&self, stage: Stage, total_bytes: Option<u64>) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        self.end_stage(&mut current);
        let total = total_bytes
            .map(|t| format!(" ({t} bytes)"))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr().lock(),
            "imgbuild: {}{total}",
            stage.name()
        );
        *current = Some((stage, Instant::now()));
    }

    fn advance(&self, bytes: u64, files: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.files.fetch_add(files, Ordering::Relaxed);
    }

    fn finish(&self) {
        if let Ok(mut current) = self.current.lock() {
            self.end_stage(&mut current);
        }
    }
}
