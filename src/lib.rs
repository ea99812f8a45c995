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
//!
//! # Use as a library
//!
//! Options are plain data ([`options::BuildOptions`]); [`build::prepare`] claims the output,
//! opens the base and walks the context; [`build::Prepared::build`] writes the image and
//! returns a [`build::BuiltImage`] with its digests. The image reader
//! ([`image::source::Image`]) opens what was written, verifying every blob it reads.
//!
//! ```
//! use imgbuild::build;
//! use imgbuild::image::{reference::ImageRef, source::Image};
//! use imgbuild::options::BuildOptions;
//! use imgbuild::progress::NoProgress;
//! use imgbuild::sink::{Format, Target};
//!
//! # fn main() -> anyhow::Result<()> {
//! let context = tempfile::tempdir()?;
//! std::fs::write(context.path().join("hello.txt"), "hello\n")?;
//! let out = tempfile::tempdir()?;
//! let layout = out.path().join("layout");
//!
//! // Every default, a fixed creation time (as SOURCE_DATE_EPOCH gives), one tag.
//! let target = Target::Path(layout.clone());
//! let mut options = BuildOptions::new(context.path(), Format::OciDir, target, 1_700_000_000)?;
//! options.tags.push("hello:1".into());
//!
//! let built = build::prepare(&options, &NoProgress)?.build(&NoProgress)?;
//! assert_eq!(built.files, 1);
//!
//! let reference = format!("oci:{}:hello:1", layout.display());
//! let image = Image::open(&ImageRef::parse(&reference).map_err(anyhow::Error::msg)?)?;
//! assert_eq!(image.top()?.digest(), built.top.digest());
//! # Ok(())
//! # }
//! ```

pub mod build;
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

pub use error::{Error, ErrorKind, Result};

use cli::{Cli, Command};
use ui::Printer;

/// Run a parsed command line; the error says how it failed ([`Error::kind`]).
pub fn run(cli: &Cli, printer: &Printer) -> Result<()> {
    let result: anyhow::Result<()> = match &cli.command {
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
    };
    result.map_err(Error::from)
}

/// After a command: the totals when it succeeded, only a cleared screen when it failed.
fn finish(progress: &dyn progress::Progress, result: &anyhow::Result<()>) {
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
