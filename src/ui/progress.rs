//! Drawing progress: an indicatif bar on a terminal (bytes of file content done of the
//! total, files, throughput, ETA, the current stage), one plain line per stage for CI logs,
//! or nothing. The only module that knows indicatif; the library only emits events.
//! What is drawn here is ours (stage names, byte and file counts), never text from an image;
//! anything from an image shown here would have to pass through `super::escape` first.
//!
//! Both displays speak in the Printer's status style, and both end each stage that counted
//! something with one line of its totals (`       Layer file content: 7 files, 113 B in
//! 0.01 s`). The bar registers itself with the Printer ([`Printer::attach_live`]), so every
//! status, warning or detail line is written above it, never through it.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::printer::Live;
use super::{Printer, human_bytes};
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
        ProgressChoice::Plain => Box::new(Plain::new(printer)),
        ProgressChoice::Auto if printer.verbose || !std::io::stderr().is_terminal() => {
            Box::new(NoProgress)
        }
        ProgressChoice::Auto => Box::new(Bar::new(printer)),
    }
}

/// The verb a stage's lines start with (right-aligned, as the Printer's status lines).
fn verb(stage: Stage) -> &'static str {
    match stage {
        Stage::Walking => "Walking",
        Stage::WritingLayer => "Layer",
        Stage::WritingImage => "Writing",
        Stage::ReadingLayers => "Reading",
        Stage::WritingRootfs => "Extracting",
        Stage::CopyingBlobs => "Copying",
        Stage::Pushing => "Pushing",
    }
}

/// What the stage works on, after the verb.
fn object(stage: Stage) -> &'static str {
    match stage {
        Stage::Walking => "context",
        Stage::WritingLayer => "file content",
        Stage::WritingImage => "image",
        Stage::ReadingLayers => "layers",
        Stage::WritingRootfs => "root filesystem",
        Stage::CopyingBlobs => "blobs",
        Stage::Pushing => "blobs",
    }
}

/// One finished item of the stage under way, as a status line of the stage's verb (the
/// Printer steps around a bar).
fn item_line(current: &Mutex<Option<Current>>, printer: &Printer, what: &str) {
    if let Some(stage) = current
        .lock()
        .ok()
        .and_then(|c| c.as_ref().map(|c| c.stage))
    {
        printer.status(verb(stage), what);
    }
}

fn files_text(n: u64) -> String {
    format!("{n} file{}", if n == 1 { "" } else { "s" })
}

/// The stage under way.
struct Current {
    stage: Stage,
    started: Instant,
    total: Option<u64>,
}

/// What the current stage has counted so far; shared with the bar's template keys.
#[derive(Default)]
struct Counts {
    bytes: AtomicU64,
    files: AtomicU64,
}

impl Counts {
    fn reset(&self) {
        self.bytes.store(0, Ordering::Relaxed);
        self.files.store(0, Ordering::Relaxed);
    }

    fn add(&self, bytes: u64, files: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.files.fetch_add(files, Ordering::Relaxed);
    }

    /// `7 files, 113 B`, `1.2 MiB`, or empty when nothing was counted.
    fn text(&self) -> String {
        let (bytes, files) = (
            self.bytes.load(Ordering::Relaxed),
            self.files.load(Ordering::Relaxed),
        );
        match (files, bytes) {
            (0, 0) => String::new(),
            (0, b) => human_bytes(b),
            (f, b) => format!("{}, {}", files_text(f), human_bytes(b)),
        }
    }

    /// The stage's last line: `file content: 7 files, 113 B in 0.01 s`.
    fn summary(&self, current: &Current) -> String {
        let counted = self.text();
        let counted = if counted.is_empty() {
            "done".into()
        } else {
            counted
        };
        format!(
            "{}: {counted} in {:.2} s",
            object(current.stage),
            current.started.elapsed().as_secs_f64()
        )
    }

    /// Whether the stage has anything to report in its last line.
    fn any(&self, current: &Current) -> bool {
        current.total.is_some()
            || self.bytes.load(Ordering::Relaxed) > 0
            || self.files.load(Ordering::Relaxed) > 0
    }
}

/// A bar on stderr: one indicatif bar per stage (and a new one when the stage switches to
/// counting files), built fully styled before its first frame, so no frame shows a half-set
/// state (the previous stage's position, indicatif's default style).
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    counts: Arc<Counts>,
    /// The bar's position counts files (after [`Progress::expect_files`]), not bytes.
    by_files: AtomicBool,
    current: Mutex<Option<Current>>,
    printer: Printer,
}

/// A spinner: the stage's total is unknown.
const SPINNER: &str = "{prefix:>12.cyan.bold} {spinner} {counted} {elapsed}";
/// Bytes of a known total (kept under 80 columns).
const BYTES: &str = "{prefix:>12.cyan.bold} [{bar:20}] {bytes}/{total_bytes}{files}, ETA {eta}";
/// Files of a known count.
const FILES: &str = "{prefix:>12.cyan.bold} [{bar:20}] {pos}/{len} files, ETA {eta}";

/// The handle the Printer holds to step around the bar.
struct BarHandle(ProgressBar);

impl Live for BarHandle {
    fn suspend(&self, write: &mut dyn FnMut()) {
        self.0.suspend(write);
    }
}

impl Bar {
    fn new(printer: &Printer) -> Bar {
        Bar {
            bar: Mutex::new(None),
            counts: Arc::default(),
            by_files: AtomicBool::new(false),
            current: Mutex::new(None),
            printer: printer.clone(),
        }
    }

    /// `template` with our keys: `{files}` (`, 7 files`, or nothing before the first) and
    /// `{counted}` (bytes and files, or nothing),
    /// read from the counters when the frame is drawn, so always current.
    fn style(&self, template: &str) -> ProgressStyle {
        let (files, counted) = (self.counts.clone(), self.counts.clone());
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("files", move |_: &ProgressState, w: &mut dyn fmt::Write| {
                let n = files.files.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = write!(w, ", {}", files_text(n));
                }
            })
            .with_key(
                "counted",
                move |_: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = w.write_str(&counted.text());
                },
            )
            .progress_chars("=> ")
    }

    /// Clear the bar drawn, if any, and let the Printer write freely again.
    fn clear(&self) {
        self.printer.detach_live();
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }

    /// Replace the bar by a new one, fully set up before it draws its first frame.
    /// End the current stage and start `stage`, drawn in files when `files` is given (its
    /// first frame already in that style), else in bytes or as a spinner.
    fn begin(&self, stage: Stage, total_bytes: Option<u64>, files: Option<u64>) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        self.end_stage(current.take());
        self.counts.reset();
        self.by_files.store(files.is_some(), Ordering::Relaxed);
        match (files, total_bytes) {
            (Some(n), _) => self.show(stage, FILES, Some(n), 0),
            (None, Some(t)) => self.show(stage, BYTES, Some(t), 0),
            (None, None) => self.show(stage, SPINNER, None, 0),
        }
        *current = Some(Current {
            stage,
            started: Instant::now(),
            total: total_bytes,
        });
    }

    fn show(&self, stage: Stage, template: &str, len: Option<u64>, pos: u64) {
        self.clear();
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr_with_hz(10))
            .with_style(self.style(template))
            .with_prefix(verb(stage))
            .with_position(pos);
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar.clone());
        }
        self.printer.attach_live(Arc::new(BarHandle(bar.clone())));
        bar.enable_steady_tick(Duration::from_millis(100));
    }

    /// The totals line of the stage that ended (the bar is cleared first).
    fn end_stage(&self, ended: Option<Current>) {
        self.clear();
        if let Some(c) = ended.filter(|c| self.counts.any(c)) {
            self.printer.status(verb(c.stage), &self.counts.summary(&c));
        }
    }
}

impl Progress for Bar {
    fn stage(&self, stage: Stage, total_bytes: Option<u64>) {
        self.begin(stage, total_bytes, None);
    }

    fn stage_files(&self, stage: Stage, total_bytes: Option<u64>, files: u64) {
        self.begin(stage, total_bytes, Some(files));
    }

    fn expect_files(&self, files: u64) {
        let Some(stage) = self
            .current
            .lock()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.stage))
        else {
            return;
        };
        self.by_files.store(true, Ordering::Relaxed);
        let done = self.counts.files.load(Ordering::Relaxed);
        self.show(stage, FILES, Some(files), done);
    }

    fn advance(&self, bytes: u64, files: u64) {
        self.counts.add(bytes, files);
        let step = if self.by_files.load(Ordering::Relaxed) {
            files
        } else {
            bytes
        };
        if step > 0
            && let Some(bar) = self.bar.lock().ok().and_then(|b| b.clone())
        {
            bar.inc(step);
        }
    }

    fn item(&self, what: &str) {
        item_line(&self.current, &self.printer, what);
    }

    fn finish(&self) {
        let ended = self.current.lock().ok().and_then(|mut c| c.take());
        self.end_stage(ended);
    }

    fn abandon(&self) {
        let _ = self.current.lock().map(|mut c| c.take());
        self.clear();
    }
}

/// One line when a stage begins and one with its totals when it ends, for logs.
struct Plain {
    current: Mutex<Option<Current>>,
    counts: Counts,
    printer: Printer,
}

impl Plain {
    fn new(printer: &Printer) -> Plain {
        Plain {
            current: Mutex::new(None),
            counts: Counts::default(),
            printer: printer.clone(),
        }
    }

    fn end_stage(&self, ended: Option<Current>) {
        if let Some(c) = ended {
            self.printer.status(verb(c.stage), &self.counts.summary(&c));
        }
    }
}

impl Progress for Plain {
    fn stage(&self, stage: Stage, total_bytes: Option<u64>) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        self.end_stage(current.take());
        self.counts.reset();
        let total = total_bytes
            .map(|t| format!(" ({})", human_bytes(t)))
            .unwrap_or_default();
        self.printer
            .status(verb(stage), &format!("{}{total}", object(stage)));
        *current = Some(Current {
            stage,
            started: Instant::now(),
            total: total_bytes,
        });
    }

    fn advance(&self, bytes: u64, files: u64) {
        self.counts.add(bytes, files);
    }

    fn item(&self, what: &str) {
        item_line(&self.current, &self.printer, what);
    }

    fn finish(&self) {
        let ended = self.current.lock().ok().and_then(|mut c| c.take());
        self.end_stage(ended);
    }

    fn abandon(&self) {
        let _ = self.current.lock().map(|mut c| c.take());
    }
}
