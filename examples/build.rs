//! Build an OCI image from a directory with imgbuild as a library, then read it back.
//!
//! ```text
//! cargo run --example build -- ./site site.tar
//! ```
//!
//! Writes an OCI archive (a layout directory when OUTPUT ends in `/`) tagged `example:1`,
//! with `SOURCE_DATE_EPOCH` semantics from a fixed time, and prints its digest.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use imgbuild::Cancel;
use imgbuild::build::{self, BuiltImage};
use imgbuild::image::reference::ImageRef;
use imgbuild::image::source::Image;
use imgbuild::options::BuildOptions;
use imgbuild::progress::NoProgress;
use imgbuild::sink::{self, Format, Target};

/// Build `context` into `output` and check that the image on disk is the one built.
fn build_image(context: &Path, output: &Path, layout: bool) -> Result<BuiltImage> {
    let format = if layout {
        Format::OciDir
    } else {
        Format::OciArchive
    };
    // Plain data: every field can be changed before the build starts.
    let mut options = BuildOptions::new(context, 1_700_000_000)?;
    options.tags.push("example:1".into());
    options.header.clamp_mtime = Some(1_700_000_000);
    // Never cancelled here; a program would keep a clone and call `cancel()` to stop.
    let cancel = Cancel::new();
    // The destination is claimed first: a bad output path fails before any work.
    let target = Target::Path(output.to_path_buf());
    let dest = sink::open(format, &target, 1_700_000_000, &cancel)?;
    let prepared = build::prepare(&options, dest, &NoProgress, &cancel)?;
    eprintln!(
        "building {} files ({} bytes) for {}",
        prepared.files(),
        prepared.bytes_in(),
        prepared.platforms()[0]
    );
    let built = prepared.build(&NoProgress)?;

    let transport = if layout { "oci" } else { "oci-archive" };
    let reference = format!("{transport}:{}:example:1", output.display());
    let reference = ImageRef::parse(&reference).map_err(anyhow::Error::msg)?;
    let image = Image::open(&reference).context("reading the image back")?;
    anyhow::ensure!(
        image.top()?.digest() == built.top.digest(),
        "the image on disk is not the one built"
    );
    Ok(built)
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(context), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: build CONTEXT OUTPUT (OUTPUT ending in / writes a layout)");
    };
    let layout = output.to_string_lossy().ends_with('/');
    let built = build_image(Path::new(&context), &PathBuf::from(output), layout)?;
    println!("{}", built.top.digest());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_directory_into_an_archive_and_a_layout() {
        let context = tempfile::tempdir().unwrap();
        std::fs::write(context.path().join("index.html"), "<h1>hi</h1>\n").unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = build_image(context.path(), &out.path().join("a.tar"), false).unwrap();
        let b = build_image(context.path(), &out.path().join("layout"), true).unwrap();
        assert_eq!(a.top.digest(), b.top.digest());
        assert_eq!(a.files, 1);
    }
}
