//! The library as a Rust program uses it: options as data, a destination claimed with
//! `sink::open` (or made directly), `build::prepare` then `build`, the result as a value,
//! the output read back through `Image` over any `BlobSource`, exported through the
//! `Destination` trait, and a build cancelled half way. No binary runs.
// See: issue #10

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use imgbuild::build::{self, BuiltImage};
use imgbuild::image::copy;
use imgbuild::image::reference::ImageRef;
use imgbuild::image::source::{BlobSource, Form, Image, layout::LayoutDir};
use imgbuild::options::BuildOptions;
use imgbuild::progress::{NoProgress, Progress};
use imgbuild::sink::oci_archive::ArchiveStream;
use imgbuild::sink::{self, Destination, Format, Target};
use imgbuild::{Cancel, ErrorKind};

use crate::checker::check_image;

const CREATED: i64 = 1_700_000_000;

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    fs::create_dir(dir.path().join("bin")).unwrap();
    fs::write(dir.path().join("bin/app"), "#!/bin/sh\necho hi\n").unwrap();
    dir
}

fn options(ctx: &Path) -> BuildOptions {
    let mut opts = BuildOptions::new(ctx, CREATED).unwrap();
    opts.tags.push("app:1".into());
    opts
}

fn build_to(ctx: &Path, dest: Box<dyn Destination + '_>) -> BuiltImage {
    let opts = options(ctx);
    let prepared = build::prepare(&opts, dest, &NoProgress, &Cancel::never()).unwrap();
    assert_eq!(prepared.files(), 2);
    assert_eq!(prepared.bytes_in(), 6 + 18);
    prepared.build(&NoProgress).unwrap()
}

fn open_dest(format: Format, path: &Path) -> Box<dyn Destination> {
    sink::open(
        format,
        &Target::Path(path.to_path_buf()),
        CREATED as u64,
        &Cancel::never(),
    )
    .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn issue_10_build_into_a_layout_an_archive_and_a_stream_and_read_them_back() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let archive = out.path().join("app.tar");
    let a = build_to(ctx.path(), open_dest(Format::OciDir, &layout));
    let b = build_to(ctx.path(), open_dest(Format::OciArchive, &archive));
    let mut streamed = Vec::new();
    let stream = ArchiveStream::new(&mut streamed, false, CREATED as u64).unwrap();
    let c = build_to(ctx.path(), Box::new(stream));
    // The same image every way: same digests, reproducible from the options alone.
    assert_eq!(a.top.digest(), b.top.digest());
    assert_eq!(a.top.digest(), c.top.digest());
    assert_eq!(a.layer.digest, b.layer.digest);
    // The layer compressed in place into the file and the staged stream: the same bytes.
    assert_eq!(fs::read(&archive).unwrap(), streamed);
    assert_eq!((a.format, b.format), (Format::OciDir, Format::OciArchive));
    assert_eq!(a.path.as_deref(), Some(layout.as_path()));
    assert_eq!(c.path, None);
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

/// A blob source of our own: a layout's files held in memory.
struct InMemory {
    index: Vec<u8>,
    blobs: HashMap<String, Vec<u8>>,
}

impl InMemory {
    fn of_layout(root: &Path) -> InMemory {
        let dir = root.join("blobs/sha256");
        let blobs = fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, fs::read(e.path()).unwrap())
            })
            .collect();
        InMemory {
            index: fs::read(root.join("index.json")).unwrap(),
            blobs,
        }
    }
}

impl BlobSource for InMemory {
    fn form(&self) -> Form {
        Form::Layout
    }

    fn index_json(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self.index.clone())
    }

    fn open_blob(
        &self,
        hex: &str,
        _desc: &oci_spec::image::Descriptor,
    ) -> anyhow::Result<Box<dyn Read + '_>> {
        match self.blobs.get(hex) {
            Some(b) => Ok(Box::new(b.as_slice())),
            None => Err(io::Error::from(io::ErrorKind::NotFound).into()),
        }
    }
}

#[test]
fn issue_10_an_image_is_read_through_any_blob_source_and_every_read_is_verified() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let built = build_to(ctx.path(), open_dest(Format::OciDir, &layout));
    let reference = ImageRef::parse("app:1").unwrap();

    let dir = LayoutDir::open(&layout).unwrap();
    let image = Image::from_source(reference.clone(), Box::new(dir)).unwrap();
    assert_eq!(image.top().unwrap().digest(), built.top.digest());

    let mut source = InMemory::of_layout(&layout);
    let image = Image::from_source(reference.clone(), Box::new(source_clone(&source))).unwrap();
    let sel = image.select(None).unwrap();
    assert_eq!(sel.manifest_desc.digest(), built.top.digest());
    // One byte of the layer changed: the reader refuses it, whatever the source.
    let layer = source.blobs.get_mut(built.layer.digest.hex()).unwrap();
    let last = layer.len() - 1;
    layer[last] ^= 1;
    let image = Image::from_source(reference.clone(), Box::new(source_clone(&source))).unwrap();
    let sel = image.select(None).unwrap();
    let mut blob = image.open_blob(&sel.manifest.layers()[0]).unwrap();
    let err = io::copy(&mut blob, &mut io::sink()).unwrap_err();
    assert!(err.to_string().contains("sha256"), "{err}");
    // A blob the source does not have is named as missing (a typed rejection).
    source.blobs.remove(built.layer.digest.hex());
    let image = Image::from_source(reference, Box::new(source)).unwrap();
    let sel = image.select(None).unwrap();
    let Err(err) = image.open_blob(&sel.manifest.layers()[0]) else {
        panic!("a blob the source does not have was opened");
    };
    let err = imgbuild::Error::from(err);
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(
        err.to_string().contains("is missing from the image"),
        "{err}"
    );
}

fn source_clone(s: &InMemory) -> InMemory {
    InMemory {
        index: s.index.clone(),
        blobs: s.blobs.clone(),
    }
}

#[test]
fn issue_10_export_is_a_copy_between_a_source_and_a_destination() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("app.tar");
    let built = build_to(ctx.path(), open_dest(Format::OciArchive, &archive));
    let image = Image::open(&ImageRef::parse(&archive.display().to_string()).unwrap()).unwrap();
    let top = image.top().unwrap();
    let docker = copy::docker_image(&image).unwrap();
    let layout = out.path().join("copy");
    let tags = vec!["copy:2".to_owned()];
    let dest = open_dest(Format::OciDir, &layout);
    let copied = copy::export(
        &image,
        &top,
        &docker,
        &tags,
        dest,
        &NoProgress,
        &Cancel::never(),
    )
    .unwrap();
    // Config, manifest and layer, byte for byte: every digest kept.
    assert_eq!(copied.blobs, 3);
    check_image(&layout).unwrap();
    let again = Image::open(&ImageRef::parse(&format!("oci:{}:copy:2", layout.display())).unwrap())
        .unwrap();
    assert_eq!(again.top().unwrap().digest(), built.top.digest());
    // Into any `Write`, as a docker archive.
    let mut bytes = Vec::new();
    let stream = ArchiveStream::new(&mut bytes, true, 0).unwrap();
    copy::export(
        &image,
        &top,
        &docker,
        &tags,
        Box::new(stream),
        &NoProgress,
        &Cancel::never(),
    )
    .unwrap();
    assert!(bytes.windows(13).any(|w| w == b"manifest.json"));
}

/// Cancels its `Cancel` once this many bytes of file content were read.
struct CancelAfter {
    cancel: Cancel,
    after: u64,
    seen: AtomicU64,
}

impl Progress for CancelAfter {
    fn advance(&self, bytes: u64, _files: u64) {
        if self.seen.fetch_add(bytes, Ordering::SeqCst) + bytes >= self.after {
            self.cancel.cancel();
        }
    }
}

#[test]
fn issue_10_a_build_cancelled_half_way_stops_and_leaves_nothing() {
    let ctx = tempfile::tempdir().unwrap();
    // 32 files of 256 KiB: the build is cancelled after the first megabyte.
    for i in 0..32u32 {
        let data: Vec<u8> = (0..256 * 1024u32)
            .map(|j| (j.wrapping_mul(2_654_435_761) >> 13 ^ i) as u8)
            .collect();
        fs::write(ctx.path().join(format!("f{i:02}")), data).unwrap();
    }
    for format in [Format::OciArchive, Format::OciDir] {
        let out = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        let progress = CancelAfter {
            cancel: cancel.clone(),
            after: 1 << 20,
            seen: AtomicU64::new(0),
        };
        let opts = BuildOptions::new(ctx.path(), CREATED).unwrap();
        let target = Target::Path(out.path().join("image"));
        let dest = sink::open(format, &target, 0, &cancel).unwrap();
        let err = build::build(&opts, dest, &progress, &cancel).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
        assert_eq!(err.to_string(), "cancelled");
        let read = progress.seen.load(Ordering::SeqCst);
        assert!(read < 2 << 20, "read {read} bytes after the cancel");
        assert!(names(out.path()).is_empty(), "{:?}", names(out.path()));
    }
    // Cancelled before it starts: claiming the output already stops.
    let cancel = Cancel::new();
    cancel.cancel();
    let out = tempfile::tempdir().unwrap();
    let opts = BuildOptions::new(ctx.path(), CREATED).unwrap();
    let dest = open_dest(Format::OciArchive, &out.path().join("x.tar"));
    let err = build::build(&opts, dest, &NoProgress, &cancel).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert!(names(out.path()).is_empty());
}

#[test]
fn issue_10_a_missing_context_is_a_typed_usage_error() {
    let out = tempfile::tempdir().unwrap();
    let err = BuildOptions::new(&out.path().join("missing"), 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(
        err.find::<imgbuild::error::UsageError>().is_some(),
        "{err:?}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn issue_10_dropping_a_prepared_build_leaves_nothing() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let opts = BuildOptions::new(ctx.path(), 0).unwrap();
    let dest = open_dest(Format::OciArchive, &out.path().join("app.tar"));
    let prepared = build::prepare(&opts, dest, &NoProgress, &Cancel::never()).unwrap();
    assert_eq!(prepared.platforms().len(), 1);
    drop(prepared);
    assert!(names(out.path()).is_empty());
}

#[test]
fn issue_10_an_archive_inside_the_context_is_left_out_of_it() {
    let ctx = context();
    let opts = BuildOptions::new(ctx.path(), CREATED).unwrap();
    let archive = ctx.path().join("app.tar");
    let dest = open_dest(Format::OciArchive, &archive);
    let built = build::build(&opts, dest, &NoProgress, &Cancel::never()).unwrap();
    assert_eq!(built.files, 2);
    check_image(&archive).unwrap();
}
