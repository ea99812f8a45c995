//! imgbuild: a daemonless, reproducible OCI image builder.
//!
//! The module tree follows the data flow of `imgbuild build`:
//!
//! ```text
//! cli → options ─► context::walk ─► layer::header ─► layer::writer ───────────────────────┐
//!                  (sorted, ignore   (USTAR + PAX,    tar → sha256 (diff_id) → compress →  │
//!                   rules applied)    0:0, clamped)   sha256 (digest) + count → store      │
//!                                                                                          ▼
//!            sink (archive / layout dir / stdout) ◄─ image::manifest ◄─ image::config ◄─ store
//! ```
//!
//! Each file of the context is read exactly once; memory stays bounded whatever the size.

pub mod cli;
pub mod commands;
pub mod compress;
pub mod context;
pub mod digest;
pub mod error;
pub mod image;
pub mod interrupt;
pub mod layer;
pub mod options;
pub mod progress;
pub mod sink;
pub mod store;
pub mod ui;

use anyhow::Result;

use cli::{Cli, Command};
use ui::Printer;

/// Run a parsed command line.
pub fn run(cli: &Cli, printer: &Printer) -> Result<()> {
    match &cli.command {
        Command::Build(args) => {
            let progress = ui::progress::for_printer(printer);
            let result = commands::build::run(args, printer, progress.as_ref());
            finish(progress.as_ref(), &result);
            result
        }
        Command::Inspect(args) => commands::inspect::run(args, printer),
        Command::Export(args) => {
            let progress = ui::progress::for_printer(printer);
            let result = commands::export::run(args, printer, progress.as_ref());
            finish(progress.as_ref(), &result);
            result
        }
        Command::Completions(args) => commands::completions::run(args, printer),
    }
}

/// After a command: the totals when it succeeded, only a cleared screen when it failed.
fn finish(progress: &dyn progress::Progress, result: &Result<()>) {
    match result {
        Ok(()) => progress.finish(),
        Err(_) => progress.abandon(),
    }
}

/// Whether the command writes an image to stdout (a broken pipe is then a failure).
pub fn stdout_is_image(cli: &Cli) -> bool {
    match &cli.command {
        Command::Build(args) => args.output.as_ref().is_none_or(|o| o.as_os_str() == "-"),
        Command::Inspect(_) | Command::Completions(_) => false,
        Command::Export(args) => args.output.as_os_str() == "-",
    }
}
