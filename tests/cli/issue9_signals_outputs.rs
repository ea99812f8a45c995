//! Issue #9 tests: issue9_signals_outputs.
//!
//! Two signals in quick succession (what `timeout`, a CI runner's cancel or a double Ctrl-C
//! send) must still remove every temporary file, for every output and at every stage; and an
//! output path that names a device, fifo, socket or symbolic link is never renamed over.
//!
//! The signal tests share one ≥ 300 MB context tree (generated once, kept under
//! `CARGO_TARGET_TMPDIR` for the next run) and one image built from it, used as a `--base`
//! (so the "writing image" stage copies 300 MB) and as the image that `export` reads.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::checker::check_image;
use crate::util::{TestContext, imgbuild_cmd};

/// Bump when the generated tree changes, so an old cached one is not reused.
const TREE_VERSION: &str = "v1";
const EPOCH: &str = "1700000000";

/// Deterministic bytes that do not compress (xorshift64).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Run once, keep the result at `CARGO_TARGET_TMPDIR/NAME` for later runs: `make` fills a
/// fresh directory, which is then renamed into place (so a killed run leaves no half tree).
fn cached(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if root.join("complete").exists() {
        return root;
    }
    let staging = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).unwrap();
    make(&staging);
    fs::write(staging.join("complete"), "").unwrap();
    let _ = fs::remove_dir_all(&root);
    if fs::rename(&staging, &root).is_err() {
        // Another test process got there first.
        let _ = fs::remove_dir_all(&staging);
        assert!(root.join("complete").exists(), "{}", root.display());
    }
    root
}

/// `ROOT/ctx`: 160 MiB of noise in 10 files, 150 MiB of text in 30, and 20,000 small files in
/// 100 directories (so that walking takes a moment too).
fn big_tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let root = cached(&format!("issue9-tree-{TREE_VERSION}"), |dir| {
            let ctx = dir.join("ctx");
            for d in 0..100 {
                let sub = ctx.join(format!("small/{d:03}"));
                fs::create_dir_all(&sub).unwrap();
                for f in 0..200 {
                    fs::write(sub.join(format!("f{f:03}")), vec![b'a'; (d + f) % 300]).unwrap();
                }
            }
            for i in 0..10u64 {
                fs::write(ctx.join(format!("noise{i}")), noise(i + 1, 16 << 20)).unwrap();
            }
            let line = b"the quick brown fox jumps over the lazy dog 0123456789\n";
            let text: Vec<u8> = line.iter().copied().cycle().take(5 << 20).collect();
            for i in 0..30 {
                fs::write(ctx.join(format!("text{i:02}")), &text).unwrap();
            }
        });
        root.join("ctx")
    })
}

/// An image of the big tree (uncompressed layer), built once.
fn big_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let ctx = big_tree().to_path_buf();
        let root = cached(&format!("issue9-image-{TREE_VERSION}"), |dir| {
            imgbuild_cmd(dir)
                .arg("build")
                .arg(&ctx)
                .args(["-o", "big.tar", "--compression", "none", "-q"])
                .env("SOURCE_DATE_EPOCH", EPOCH)
                .timeout(Duration::from_secs(600))
                .assert()
                .success();
        });
        root.join("big.tar")
    })
}

/// A smaller image for the cases that interrupt the writing of a root filesystem, which
/// begins only once every layer was read and verified: the small files, two noise files and
/// two text files of the big tree (≈ 45 MB, 20,000 files), built once.
fn mid_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let big = big_tree().to_path_buf();
        let root = cached(&format!("issue9-mid-image-{TREE_VERSION}"), |dir| {
            let ctx = dir.join("ctx");
            fs::create_dir(&ctx).unwrap();
            copy_tree(&big.join("small"), &ctx.join("small"));
            for name in ["noise0", "noise1", "text00", "text01"] {
                fs::copy(big.join(name), ctx.join(name)).unwrap();
            }
            imgbuild_cmd(dir)
                .args([
                    "build",
                    "ctx",
                    "-o",
                    "mid.tar",
                    "--compression",
                    "none",
                    "-q",
                ])
                .env("SOURCE_DATE_EPOCH", EPOCH)
                .timeout(Duration::from_secs(600))
                .assert()
                .success();
            fs::remove_dir_all(&ctx).unwrap();
        });
        root.join("mid.tar")
    })
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every path under `dir`, relative, sorted.
fn tree_of(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, p: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let path = e.path();
            out.push(
                path.strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

#[derive(Clone, Copy)]
enum StdoutTo {
    Null,
    /// A pipe that the test drains.
    Pipe,
    /// A pipe that nobody reads until the process ended: once it is full, imgbuild is stuck
    /// in `write` and only the watcher thread can act on a signal.
    StuckPipe,
    /// A regular file `out/stream.tar`, created before the run.
    File,
}

struct Case {
    name: String,
    /// Arguments after the binary; `{ctx}`, `{image}` and `{mid}` are replaced.
    args: Vec<OsString>,
    stdout: StdoutTo,
    /// The `--progress plain` line that starts the stage to interrupt.
    stage: &'static str,
    /// Time between that line and the first signal.
    delay: Duration,
    signals: Vec<i32>,
    /// Time between the signals.
    gap: Duration,
    code: i32,
}

fn case(name: &str, args: &[&str], stage: &'static str, delay_ms: u64) -> Case {
    Case {
        name: name.to_owned(),
        args: args.iter().map(OsString::from).collect(),
        stdout: StdoutTo::Null,
        stage,
        delay: Duration::from_millis(delay_ms),
        signals: vec![libc::SIGINT, libc::SIGINT],
        gap: Duration::from_millis(5),
        code: 130,
    }
}

const WALKING: &str = "     Walking context";
const LAYER: &str = "       Layer file content";
const IMAGE: &str = "     Writing image";
const COPYING: &str = "     Copying blobs";
const READING: &str = "     Reading layers";
const ROOTFS: &str = "  Extracting root filesystem";

/// Run `c` in a fresh directory (`out/`, and `tmp/` as the child's TMPDIR), send its signals
/// once its stage has begun, and check the exit code and that nothing it created remains.
fn run_case(c: &Case) {
    let t = tempfile::Builder::new()
        .prefix("imgbuild-sig-")
        .tempdir()
        .unwrap();
    let (out, tmp) = (t.path().join("out"), t.path().join("tmp"));
    fs::create_dir(&out).unwrap();
    fs::create_dir(&tmp).unwrap();
    // A context of its own, tiny, for builds on the big base.
    fs::create_dir(t.path().join("small")).unwrap();
    fs::write(t.path().join("small/hello"), "hello\n").unwrap();
    let stream_file = out.join("stream.tar");
    if let StdoutTo::File = c.stdout {
        fs::write(&stream_file, "").unwrap();
    }
    let before = (tree_of(&out), tree_of(&tmp));
    let inputs = [big_image(), mid_image()].map(|i| i.parent().unwrap().to_path_buf());
    let inputs_before = inputs.each_ref().map(|d| tree_of(d));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imgbuild"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", &tmp)
        .env("XDG_CACHE_HOME", t.path().join("cache"))
        .current_dir(t.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .stdout(match c.stdout {
            StdoutTo::Null => Stdio::null(),
            StdoutTo::Pipe | StdoutTo::StuckPipe => Stdio::piped(),
            StdoutTo::File => Stdio::from(fs::File::create(&stream_file).unwrap()),
        });
    for a in &c.args {
        let s = a.to_string_lossy();
        let s = s
            .replace("{ctx}", &big_tree().to_string_lossy())
            .replace("{image}", &big_image().to_string_lossy())
            .replace("{mid}", &mid_image().to_string_lossy());
        cmd.arg(s);
    }
    cmd.args(["--progress", "plain"]);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            all.push_str(&line);
            all.push('\n');
            let _ = tx.send(line);
        }
        all
    });
    let stuck = match c.stdout {
        StdoutTo::StuckPipe => child.stdout.take(),
        _ => None,
    };
    let drain = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            sink.len()
        })
    });
    // Wait for the stage to begin.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut reached = false;
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) if line.starts_with(c.stage) => {
                reached = true;
                break;
            }
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if !reached {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{}: stage '{}' never began:\n{}",
            c.name,
            c.stage,
            reader.join().unwrap()
        );
    }
    if let Some(pipe) = &stuck {
        // Wait until the pipe is full, so that imgbuild really is blocked in write(2).
        wait_until_full(pipe, &c.name);
    }
    std::thread::sleep(c.delay);
    for (i, &sig) in c.signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(c.gap);
        }
        // SAFETY: signalling our own child, which has not been waited for.
        unsafe { libc::kill(child.id() as i32, sig) };
    }
    let signalled = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{}: still running 120 s after the signals", c.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let text = reader.join().unwrap();
    drop(stuck);
    if let Some(d) = drain {
        d.join().unwrap();
    }
    eprintln!(
        "{}: exit {:?} {} ms after the signals ({} ms in all)",
        c.name,
        status.code(),
        signalled.elapsed().as_millis(),
        started.elapsed().as_millis()
    );
    assert_eq!(
        (tree_of(&out), tree_of(&tmp)),
        before,
        "{}: only what existed before may remain in out/ and TMPDIR\n{text}",
        c.name
    );
    // The layer cache may keep what it had stored, never a temporary file.
    let cache_temps: Vec<String> = tree_of(&t.path().join("cache"))
        .into_iter()
        .filter(|p| p.contains(".imgbuild-"))
        .collect();
    assert!(
        cache_temps.is_empty(),
        "{}: left in the cache: {cache_temps:?}",
        c.name
    );
    assert_eq!(status.code(), Some(c.code), "{}:\n{text}", c.name);
    assert!(text.contains("interrupted"), "{}:\n{text}", c.name);
    assert!(!text.contains("panicked"), "{}:\n{text}", c.name);
    if let StdoutTo::StuckPipe = c.stdout {
        assert!(
            text.contains("interrupted again; temporary files removed"),
            "{}: the third signal is acted on by the watcher:\n{text}",
            c.name
        );
    }
    assert_eq!(
        inputs.each_ref().map(|d| tree_of(d)),
        inputs_before,
        "{}: nothing is left beside the input images",
        c.name
    );
}

/// The three build stages for one output: (args for a build of the big tree, args for a
/// build on the big base).
fn build_cases(output: &[&str], stdout: StdoutTo, label: &str) -> Vec<Case> {
    let big: Vec<&str> = [&["build", "{ctx}"][..], output].concat();
    let on_base: Vec<&str> = [&["build", "small", "--base", "{image}"][..], output].concat();
    let mut cases = vec![
        case(&format!("{label} walking"), &big, WALKING, 0),
        case(&format!("{label} layer"), &big, LAYER, 400),
        case(
            &format!("{label} assembling the image"),
            &on_base,
            IMAGE,
            300,
        ),
    ];
    for (i, c) in cases.iter_mut().enumerate() {
        c.stdout = stdout;
        // 1, 8 and 20 ms between the two signals.
        c.gap = Duration::from_millis([1, 8, 20][i]);
    }
    cases
}

// See: issue #9
#[test]
fn issue_9_double_sigint_oci_archive_leaves_nothing() {
    for c in build_cases(&["-o", "out/x.tar"], StdoutTo::Null, "oci-archive") {
        run_case(&c);
    }
}

// See: issue #9
#[test]
fn issue_9_double_sigint_oci_dir_leaves_nothing() {
    for c in build_cases(
        &["--format", "oci-dir", "-o", "out/layout"],
        StdoutTo::Null,
        "oci-dir",
    ) {
        run_case(&c);
    }
}

// See: issue #9
#[test]
fn issue_9_double_sigint_stdout_leaves_nothing() {
    for c in build_cases(&["-o", "-"], StdoutTo::Pipe, "stdout pipe")
        .into_iter()
        .chain(build_cases(&["-o", "-"], StdoutTo::File, "stdout file"))
    {
        run_case(&c);
    }
}

// See: issue #9
#[test]
fn issue_9_double_sigint_export_leaves_nothing() {
    let archive = ["export", "{image}", "-o", "out/copy.tar"];
    let rootfs = [
        "export",
        "{image}",
        "--format",
        "rootfs-dir",
        "-o",
        "out/rootfs",
    ];
    let mid_rootfs = [
        "export",
        "{mid}",
        "--format",
        "rootfs-dir",
        "-o",
        "out/rootfs",
    ];
    let rootfs_tar = [
        "export",
        "{mid}",
        "--format",
        "rootfs-tar",
        "-o",
        "out/rootfs.tar",
    ];
    for c in [
        case("export oci-archive copying", &archive, COPYING, 300),
        case("export rootfs-dir reading", &rootfs, READING, 300),
        case("export rootfs-dir writing", &mid_rootfs, ROOTFS, 300),
        case("export rootfs-tar writing", &rootfs_tar, ROOTFS, 100),
    ] {
        run_case(&c);
    }
}

// See: issue #9
#[test]
fn issue_9_double_sigterm_sighup_and_a_third_signal() {
    let mut term = case(
        "SIGTERM x2 layer",
        &["build", "{ctx}", "-o", "out/x.tar"],
        LAYER,
        300,
    );
    term.signals = vec![libc::SIGTERM, libc::SIGTERM];
    term.code = 143;
    let mut hup = case(
        "SIGHUP x2 oci-dir",
        &["build", "{ctx}", "--format", "oci-dir", "-o", "out/l"],
        LAYER,
        300,
    );
    hup.signals = vec![libc::SIGHUP, libc::SIGHUP];
    hup.code = 129;
    // Three signals: the third exits at once, and still removes what was registered.
    let mut three = case(
        "SIGINT x3 rootfs-dir",
        &[
            "export",
            "{mid}",
            "--format",
            "rootfs-dir",
            "-o",
            "out/rootfs",
        ],
        ROOTFS,
        300,
    );
    three.signals = vec![libc::SIGINT; 3];
    three.gap = Duration::from_millis(1);
    let mut three_archive = case(
        "SIGINT x3 stdout",
        &["build", "small", "--base", "{image}", "-o", "-"],
        IMAGE,
        200,
    );
    three_archive.signals = vec![libc::SIGINT; 3];
    three_archive.stdout = StdoutTo::Pipe;
    // Stuck writing into a full pipe, the main thread never sees the flag: two signals do
    // nothing more (by design), the third one removes the staging directory and exits.
    let mut stuck = case(
        "SIGINT x3 stuck on a full stdout pipe",
        &["build", "small", "--base", "{image}", "-o", "-"],
        IMAGE,
        100,
    );
    stuck.signals = vec![libc::SIGINT; 3];
    stuck.gap = Duration::from_millis(20);
    stuck.stdout = StdoutTo::StuckPipe;
    for c in [term, hup, three, three_archive, stuck] {
        run_case(&c);
    }
}

/// Poll the bytes waiting in the pipe until it is all but full (a write may leave less than
/// a page free) and stays so: imgbuild is then blocked in write(2). 60 s at most.
fn wait_until_full(pipe: &std::process::ChildStdout, name: &str) {
    use std::os::fd::AsRawFd;
    let fd = pipe.as_raw_fd();
    // SAFETY: F_GETPIPE_SZ on a pipe fd we own.
    let capacity = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    assert!(capacity > 0, "{name}: F_GETPIPE_SZ failed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = -1;
    loop {
        let mut queued: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) };
        assert_eq!(rc, 0, "{name}: FIONREAD failed");
        if queued > capacity - 4096 && queued == last {
            return;
        }
        last = queued;
        assert!(
            Instant::now() < deadline,
            "{name}: stdout pipe never filled ({queued} of {capacity} bytes)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- output paths that are not regular files ----

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

fn mknod(path: &Path, kind: libc::mode_t, major: u32, minor: u32) {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(p.as_ptr(), kind | 0o666, libc::makedev(major, minor)) };
    assert_eq!(rc, 0, "mknod {}", path.display());
}

fn small_ctx() -> TestContext {
    let t = TestContext::new();
    t.file("hello", "hello\n")
        .file("dir/data", vec![7u8; 100_000]);
    t
}

/// A small image at `out/src.tar` for the export cases.
fn small_image(t: &TestContext) -> PathBuf {
    t.build_digest("src.tar", &[]);
    t.out("src.tar")
}

/// No `.imgbuild-` temporary anywhere under `dir`.
fn assert_no_temps(dir: &Path) {
    let left: Vec<String> = tree_of(dir)
        .into_iter()
        .filter(|p| p.contains("imgbuild-"))
        .collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        dir.display()
    );
}

fn assert_char_dev(path: &Path, major: u32, minor: u32) {
    let m = fs::symlink_metadata(path).unwrap();
    assert!(
        m.file_type().is_char_device(),
        "{} is no longer a character device",
        path.display()
    );
    assert_eq!(
        (libc::major(m.rdev()), libc::minor(m.rdev())),
        (major, minor)
    );
}

/// Every output command that writes a file, given `-o PATH`.
fn file_outputs(t: &TestContext, image: &Path, path: &Path) -> Vec<(String, Command)> {
    let mut v = Vec::new();
    let mut c = Command::new(env!("CARGO_BIN_EXE_imgbuild"));
    c.current_dir(t.root())
        .args(["build", "ctx", "-q", "-o"])
        .arg(path);
    v.push(("build".to_owned(), c));
    for format in ["oci-archive", "docker-archive", "rootfs-tar"] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_imgbuild"));
        c.current_dir(t.root())
            .arg("export")
            .arg(image)
            .args(["-q", "--format", format, "-o"])
            .arg(path);
        v.push((format!("export {format}"), c));
    }
    v
}

fn run_ok(what: &str, c: &mut Command) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// See: issue #9
#[test]
fn issue_9_char_device_output_is_written_into_not_replaced() {
    if !is_root() {
        eprintln!("skipping: mknod of a character device needs root");
        return;
    }
    let t = small_ctx();
    let image = small_image(&t);
    let devs = t.root().join("devs");
    fs::create_dir(&devs).unwrap();
    let null = devs.join("null");
    mknod(&null, libc::S_IFCHR, 1, 3);
    let link = devs.join("null-link");
    std::os::unix::fs::symlink(&null, &link).unwrap();
    for target in [&null, &link] {
        for (what, mut c) in file_outputs(&t, &image, target) {
            run_ok(&format!("{what} -o {}", target.display()), &mut c);
            assert_char_dev(&null, 1, 3);
        }
    }
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_link(&link).unwrap(), null);
    assert_no_temps(&devs);
    assert_eq!(tree_of(&devs), ["null", "null-link"]);
}

/// Read everything from the fifo at `path` in a thread; what it read arrives on the channel.
/// (If the fifo was replaced, the reader waits for a writer forever: the test then fails by
/// timeout instead of hanging.)
fn fifo_reader(path: &Path) -> mpsc::Receiver<Vec<u8>> {
    let path = path.to_path_buf();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut v = Vec::new();
        fs::File::open(&path).unwrap().read_to_end(&mut v).unwrap();
        let _ = tx.send(v);
    });
    rx
}

// See: issue #9
#[test]
fn issue_9_fifo_output_is_streamed_to_its_reader() {
    let t = small_ctx();
    let image = small_image(&t);
    let dir = t.root().join("fifos");
    fs::create_dir(&dir).unwrap();
    let fifo = dir.join("pipe");
    let p = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
    for (what, mut c) in file_outputs(&t, &image, &fifo) {
        let reader = fifo_reader(&fifo);
        run_ok(&what, &mut c);
        let bytes = reader
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what}: the fifo's reader got no stream"));
        assert!(
            fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(),
            "{what}"
        );
        let got = t.root().join("got.tar");
        fs::write(&got, &bytes).unwrap();
        if what.ends_with("rootfs-tar") {
            let names: Vec<String> = tar::Archive::new(&bytes[..])
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().any(|n| n.ends_with("dir/data")), "{names:?}");
        } else {
            check_image(&got).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        }
    }
    assert_eq!(tree_of(&dir), ["pipe"]);
}

// See: issue #9
#[test]
fn issue_9_fifo_reader_closing_early_is_a_failure() {
    let t = small_ctx();
    t.file("big", noise(9, 4 << 20));
    let dir = t.root().join("fifos");
    fs::create_dir(&dir).unwrap();
    let fifo = dir.join("pipe");
    let p = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
    let f = fifo.clone();
    // Not joined: if imgbuild never opened the fifo, the reader would wait forever.
    std::thread::spawn(move || {
        let mut buf = [0u8; 100];
        fs::File::open(&f).unwrap().read_exact(&mut buf).unwrap();
    });
    t.cmd()
        .args(["build", "ctx", "--compression", "none", "-o"])
        .arg(&fifo)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "closed it before the output was complete",
        ));
}

// See: issue #9
#[test]
fn issue_9_socket_block_device_and_directory_outputs_are_refused() {
    let t = small_ctx();
    let image = small_image(&t);
    let dir = t.root().join("special");
    fs::create_dir(&dir).unwrap();
    let sock = dir.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut cases = vec![(sock.clone(), "socket")];
    if is_root() {
        let blk = dir.join("loop");
        mknod(&blk, libc::S_IFBLK, 7, 0);
        cases.push((blk, "block device"));
        let chr = dir.join("chr");
        mknod(&chr, libc::S_IFCHR, 1, 3);
    }
    let fifo = dir.join("fifo");
    let p = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
    let before = tree_of(&dir);
    for (path, kind) in &cases {
        for (what, mut c) in file_outputs(&t, &image, path) {
            let out = c.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} -o {kind}: {stderr}");
            assert!(
                stderr.contains(&path.display().to_string()) && stderr.contains(kind),
                "{what} -o {kind}: {stderr}"
            );
        }
    }
    // Directory outputs refuse a device, fifo or socket clearly.
    let mut dir_cases = vec![(sock.clone(), "socket"), (fifo.clone(), "fifo")];
    if is_root() {
        dir_cases.push((dir.join("chr"), "character device"));
        dir_cases.push((dir.join("loop"), "block device"));
    }
    for (path, kind) in &dir_cases {
        for args in [
            vec!["build", "ctx", "--format", "oci-dir"],
            vec!["export", "out/src.tar", "--format", "oci-dir"],
            vec!["export", "out/src.tar", "--format", "rootfs-dir"],
        ] {
            let out = t
                .cmd()
                .args(&args)
                .arg("-o")
                .arg(path)
                .timeout(Duration::from_secs(30))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} -o {kind}: {stderr}");
            assert!(
                stderr.contains(&path.display().to_string()) && stderr.contains(kind),
                "{args:?} -o {kind}: {stderr}"
            );
        }
    }
    // A directory where a file is expected.
    t.build("", &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));
    assert_eq!(tree_of(&dir), before);
    if is_root() {
        assert_char_dev(&dir.join("chr"), 1, 3);
    }
}

// See: issue #9
#[test]
fn issue_9_symlink_output_replaces_its_target_beside_itself() {
    let t = small_ctx();
    let image = small_image(&t);
    let here = t.root().join("here");
    let elsewhere = t.root().join("elsewhere");
    fs::create_dir(&here).unwrap();
    fs::create_dir(&elsewhere).unwrap();
    let target = elsewhere.join("image.tar");
    let link = here.join("link.tar");
    std::os::unix::fs::symlink("../elsewhere/image.tar", &link).unwrap();
    for (what, mut c) in file_outputs(&t, &image, &link) {
        fs::write(&target, "old").unwrap();
        let ino = fs::metadata(&target).unwrap().ino();
        run_ok(&what, &mut c);
        let m = fs::symlink_metadata(&link).unwrap();
        assert!(m.file_type().is_symlink(), "{what}: the link was replaced");
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("../elsewhere/image.tar")
        );
        let tm = fs::metadata(&target).unwrap();
        assert_ne!(
            tm.ino(),
            ino,
            "{what}: the target is replaced, not rewritten"
        );
        if !what.ends_with("rootfs-tar") {
            check_image(&target).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        }
        assert_eq!(tree_of(&here), ["link.tar"], "{what}");
        assert_eq!(tree_of(&elsewhere), ["image.tar"], "{what}");
    }
    // A dangling link: its target is created.
    fs::remove_file(&target).unwrap();
    t.cmd()
        .args(["build", "ctx", "-o"])
        .arg(&link)
        .assert()
        .success();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    check_image(&target).unwrap();
    assert_no_temps(t.root());
}
