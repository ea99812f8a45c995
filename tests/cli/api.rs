//! The library as a Rust program uses it: options as data, `build::prepare` then `build`,
//! the result as a value, the output read back through the image reader. No binary runs.
// See: issue #10

use std::fs;

use imgbuild::build::{self, BuiltImage};
use imgbuild::image::reference::ImageRef;
use imgbuild::image::source::Image;
use imgbuild::options::BuildOptions;
use imgbuild::progress::NoProgress;
use imgbuild::sink::{Format, Target};

use crate::checker::check_image;

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    fs::create_dir(dir.path().join("bin")).unwrap();
    fs::write(dir.path().join("bin/app"), "#!/bin/sh\necho hi\n").unwrap();
    dir
}

fn build_into(ctx: &std::path::Path, format: Format, out: &std::path::Path) -> BuiltImage {
    let mut opts =
        BuildOptions::new(ctx, format, Target::Path(out.to_path_buf()), 1_700_000_000).unwrap();
    opts.tags.push("app:1".into());
    let prepared = build::prepare(
        &opts,
        imgbuild::sink::open(opts.format, &opts.target, 0).unwrap(),
        &NoProgress,
        &imgbuild::Cancel::never(),
    )
    .unwrap();
    assert_eq!(prepared.files(), 2);
    assert_eq!(prepared.bytes_in(), 6 + 18);
    prepared.build(&NoProgress).unwrap()
}

#[test]
fn issue_10_build_into_a_layout_and_an_archive_and_read_them_back() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let archive = out.path().join("app.tar");
    let a = build_into(ctx.path(), Format::OciDir, &layout);
    let b = build_into(ctx.path(), Format::OciArchive, &archive);
    // The same image either way: same digests, reproducible from the options alone.
    assert_eq!(a.top.digest(), b.top.digest());
    assert_eq!(a.layer.digest, b.layer.digest);
    assert_eq!(a.manifests.len(), 1);
    assert_eq!(a.manifests[0].platform.to_string(), "linux/amd64");
    assert_eq!(a.manifests[0].layers.last(), Some(&a.layer.digest));
    assert_eq!((a.files, a.entries), (2, 3));
    for (path, reference) in [
        (&layout, format!("oci:{}:app:1", layout.display())),
        (&archive, format!("oci-archive:{}:app:1", archive.display())),
    ] {
        let image = Image::open(&ImageRef::parse(&reference).unwrap()).unwrap();
        let top = image.top().unwrap();
        assert_eq!(top.digest(), a.top.digest(), "{reference}");
        let sel = image.select(None).unwrap();
        assert_eq!(sel.manifest.layers().len(), 1);
        assert_eq!(
            sel.manifest.layers()[0].digest().to_string(),
            a.layer.digest.prefixed()
        );
        check_image(path).unwrap();
    }
}

#[test]
fn issue_10_a_missing_context_is_a_usage_error() {
    let out = tempfile::tempdir().unwrap();
    let err = BuildOptions::new(
        &out.path().join("missing"),
        Format::OciArchive,
        Target::Path(out.path().join("x.tar")),
        0,
    )
    .unwrap_err();
    assert!(
        err.chain()
            .any(|c| c.downcast_ref::<imgbuild::error::UsageError>().is_some()),
        "{err:#}"
    );
    assert!(format!("{err}").contains("does not exist"), "{err}");
}

#[test]
fn issue_10_dropping_a_prepared_build_leaves_nothing() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let opts = BuildOptions::new(
        ctx.path(),
        Format::OciArchive,
        Target::Path(out.path().join("app.tar")),
        0,
    )
    .unwrap();
    let prepared = build::prepare(
        &opts,
        imgbuild::sink::open(opts.format, &opts.target, 0).unwrap(),
        &NoProgress,
        &imgbuild::Cancel::never(),
    )
    .unwrap();
    assert_eq!(prepared.platforms().len(), 1);
    drop(prepared);
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}
