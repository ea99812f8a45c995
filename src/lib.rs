//! imgbuild: a daemonless, reproducible OCI image builder.
//!
//! The module tree follows the data flow of `imgbuild build`:
//!
//! ```text
//! cli → options ─► context::walk ─► layer::header ─► layer::writer ───────────────────────┐
//!                  (sorted, ignore   (USTAR + PAX,    tar → sha256 (diff_id) → compress →  │
//!                   rules applied)    0:0, clamped)   sha256 (digest) + count → store      │
//!                                                                                          ▼
//!       sink::Destination (archive, layout, stream) ◄─ image::manifest ◄─ image::config ◄─ store
//! ```
//!
//! Each file of the context is read exactly once; memory stays bounded whatever the size.
//!
//! # Use as a library
//!
//! Options are plain data ([`options::BuildOptions`]). A [`sink::Destination`] is where the
//! image goes ([`sink::open`] claims a layout directory, an archive file or a stream, as
//! `-o` does; [`sink::oci_archive::ArchiveStream`] writes into any `Write`).
//! [`build::prepare`] opens the base and walks the context; [`build::Prepared::build`]
//! writes the image and returns a [`build::BuiltImage`] with its digests ([`build::build`]
//! does both). An [`image::source::Image`] reads an image through any
//! [`image::source::BlobSource`], verifying every blob it reads; [`image::copy::export`]
//! copies one into a destination. A [`Cancel`] stops any of them; errors are
//! [`Error`]s whose [`ErrorKind`] says what went wrong.
//!
//! ```
//! use imgbuild::image::{reference::ImageRef, source::Image};
//! use imgbuild::options::BuildOptions;
//! use imgbuild::progress::NoProgress;
//! use imgbuild::sink::{self, Format, Target};
//! use imgbuild::{Cancel, build};
//!
//! # fn main() -> anyhow::Result<()> {
//! let context = tempfile::tempdir()?;
//! std::fs::write(context.path().join("hello.txt"), "hello\n")?;
//! let out = tempfile::tempdir()?;
//! let layout = out.path().join("layout");
//!
//! // Every default, a fixed creation time (as SOURCE_DATE_EPOCH gives), one tag.
//! let mut options = BuildOptions::new(context.path(), 1_700_000_000)?;
//! options.tags.push("hello:1".into());
//! let cancel = Cancel::new();
//! let dest = sink::open(Format::OciDir, &Target::Path(layout.clone()), 0, &cancel)?;
//!
//! let built = build::build(&options, dest, &NoProgress, &cancel)?;
//! assert_eq!(built.files, 1);
//!
//! let reference = format!("oci:{}:hello:1", layout.display());
//! let image = Image::open(&ImageRef::parse(&reference).map_err(anyhow::Error::msg)?)?;
//! assert_eq!(image.top()?.digest(), built.top.digest());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

// The library, in data-flow order (rustfmt.toml keeps it; drawn at the top of this file).
pub mod options; // what to build, as plain data
pub mod context; // the walk: the context on disk becomes ordered entries
pub mod layer; // tar headers and the one-pass layer writer; reading layers back
pub mod compress; // gzip (parallel, reproducible), zstd, none
pub mod digest; // sha256 while streaming, verifying readers
pub mod store; // the content-addressed blob store
pub mod cache; // the local layer cache: built layers reused by a key of their inputs
pub mod image; // config, manifest, index; image sources; base images; copy and verify
pub mod sink; // destinations: archive file, stream, layout directory
pub mod build; // the build pipeline: prepare, build, BuiltImage
pub mod flatten; // an image's layers flattened into one root filesystem (export rootfs-*)
pub mod registry; // OCI registries: credentials, transport, pull and push
// Across the stages.
pub mod cancel; // cancellation as a value: what stops a long operation
pub mod error; // the typed error and its kinds
pub mod interrupt; // signals wired to a Cancel, and the temporary paths they must not leave
pub mod progress; // what long operations report

// The command line, not part of the library's documented surface.
// clap turns these doc comments into --help text (`NAME[:TAG]`), not rustdoc links.
#[doc(hidden)]
#[allow(rustdoc::broken_intra_doc_links)]
pub mod cli;
#[doc(hidden)]
pub mod commands;
#[doc(hidden)]
pub mod ui;

pub use cancel::Cancel;
pub use error::{Error, ErrorKind, Result};

use cli::{Cli, Command};
use ui::Printer;

/// Run a parsed command line until done or `cancel`led; the error says how it failed
/// ([`Error::kind`]).
pub fn run(cli: &Cli, printer: &Printer, cancel: &Cancel) -> Result<()> {
    let result: anyhow::Result<()> = match &cli.command {
        Command::Build(args) => {
            let progress = ui::progress::for_printer(printer);
            let result = commands::build::run(args, printer, progress.as_ref(), cancel);
            finish(progress.as_ref(), &result);
            result
        }
        Command::Inspect(args) => commands::inspect::run(args, printer, cancel),
        Command::Export(args) => {
            let progress = ui::progress::for_printer(printer);
            let result = commands::export::run(args, printer, progress.as_ref(), cancel);
            finish(progress.as_ref(), &result);
            result
        }
        Command::Push(args) => {
            let progress = ui::progress::for_printer(printer);
            let result = commands::push::run(args, printer, progress.as_ref(), cancel);
            finish(progress.as_ref(), &result);
            result
        }
        Command::Completions(args) => commands::completions::run(args, printer),
        Command::Login(args) => commands::login::run_login(args, printer, cancel),
        Command::Logout(args) => commands::login::run_logout(args, printer),
        Command::Cache(args) => commands::cache::run(args, printer),
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
        Command::Build(args) => match &args.output {
            Some(o) => o.as_os_str() == "-",
            None => !args.push,
        },
        Command::Inspect(_) | Command::Completions(_) | Command::Push(_) => false,
        Command::Login(_) | Command::Logout(_) | Command::Cache(_) => false,
        Command::Export(args) => args.output.as_os_str() == "-",
    }
}

/// Whether `--json` puts its document on stderr, the image itself going to stdout. The
/// document is then all of stderr: status lines, warnings (they are in the document) and
/// progress are left out, as with `-q`, so that stderr parses as JSON.
pub fn json_on_stderr(cli: &Cli) -> bool {
    let json = match &cli.command {
        Command::Build(args) => args.json,
        Command::Export(args) => args.json,
        _ => false,
    };
    json && stdout_is_image(cli)
}
