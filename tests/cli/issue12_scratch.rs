//! The scratch directory the documented commands run in (#12, `issue12_examples`): HOME,
//! the pull cache and podman's storage inside it, the files the `--help` examples assume, and
//! the script runner that names the first command that failed.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::interop::require_tool;
use crate::issue12_examples::Example;
use crate::registry::Registry;
use crate::util::imgbuild_cmd;

/// A scratch directory: HOME, the pull cache and podman's storage inside it.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new(tls: Option<&Registry>) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("imgbuild-examples-")
            .tempdir()
            .unwrap();
        let s = Scratch { dir };
        let state = s.path().join(".state");
        fs::create_dir_all(state.join("home")).unwrap();
        fs::write(
            state.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/podman/root\"\n\
                 runroot = \"{0}/podman/run\"\n",
                state.display()
            ),
        )
        .unwrap();
        fs::write(
            state.join("containers.conf"),
            format!(
                "[engine]\nevents_logger = \"none\"\ncgroup_manager = \"cgroupfs\"\n\
                 tmp_dir = \"{}/podman/tmp\"\n",
                state.display()
            ),
        )
        .unwrap();
        if let Some(ca) = tls.and_then(Registry::ca_cert) {
            fs::copy(ca, s.path().join("ca.crt")).unwrap();
        }
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    fn imgbuild(&self, args: &[&str]) {
        imgbuild_cmd(self.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(args)
            .arg("-q")
            .assert()
            .success();
    }

    /// `cmd` in this directory with the built imgbuild first on PATH, HOME, the pull cache and
    /// podman's storage here, and the token a CI secret would hold.
    fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let state = self.path().join(".state");
        let bin = Path::new(env!("CARGO_BIN_EXE_imgbuild")).parent().unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)),
        )
        .unwrap();
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", state.join("home"))
            .env("XDG_CACHE_HOME", state.join("cache"))
            .env("CONTAINERS_STORAGE_CONF", state.join("storage.conf"))
            .env("CONTAINERS_CONF", state.join("containers.conf"))
            .env("REGISTRY_TOKEN", "a-token-from-a-ci-secret")
            .env("LANG", "C.UTF-8")
    }

    /// Runs one command on a terminal (`script`, a real pty) with `input` typed, as a person
    /// at a prompt would; panics with the transcript when it fails or takes a minute.
    pub fn run_at_terminal(&self, what: &str, e: &Example, input: &str) {
        let transcript = self.path().join(".state/terminal.txt");
        let mut child = self
            .env(Command::new("script").args(["-qec", &e.text, "/dev/null"]))
            .stdin(Stdio::piped())
            .stdout(fs::File::create(&transcript).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // stdin stays open until the command ends: script would pass its end on as ^D.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        drop(stdin);
        let text = fs::read_to_string(&transcript).unwrap_or_default();
        assert!(
            status.is_some_and(|s| s.success()),
            "{}: `{}` failed at a terminal ({status:?}); the screen:\n{text}",
            e.source,
            e.text
        );
        eprintln!("{what}: ran `{}` at a terminal", e.text);
    }

    /// Runs the commands as one script, in order (so `digest=$(...)` carries over); panics
    /// naming the first that failed, with the trace. Each command's status is checked after
    /// it, which is stricter than `sh -e` (that lets a failure on the left of `&&` pass).
    pub fn run(&self, what: &str, examples: &[&Example]) {
        let mut script = String::from("set -x -o pipefail\n");
        for (i, e) in examples.iter().enumerate() {
            script.push_str(&format!(
                "{}\nrc=$?; if [ $rc -ne 0 ]; then echo \"EXAMPLE {i} FAILED\" >&2; exit $rc; fi\n",
                e.text
            ));
        }
        let file = self.path().join(".state/examples.sh");
        fs::write(&file, script).unwrap();
        let out = self.env(Command::new("bash").arg(&file)).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return;
        }
        let failed = err
            .lines()
            .find_map(|l| {
                l.strip_prefix("EXAMPLE ")?
                    .strip_suffix(" FAILED")?
                    .parse()
                    .ok()
            })
            .map_or("(unknown: no EXAMPLE line)".to_owned(), |i: usize| {
                format!("{}: `{}`", examples[i].source, examples[i].text)
            });
        panic!(
            "{what}: a documented command failed ({}):\n{failed}\n\
             the trace (+ lines are the commands):\n{err}\nstdout:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The files the help examples name: ./dist and ./site, busybox.tar (busybox:1.36, static
/// busybox when installed), app.tar, multi.tar and ./layout (app:1.4, two platforms),
/// saved.tar (a docker-archive of two layers), a git checkout, and a login for logout.
pub fn help_fixtures(s: &Scratch, git: bool) {
    s.file("dist/server", "#!/bin/sh\necho serving\n");
    s.file("dist/static/app.js", "console.log('app')\n");
    s.file("site/index.html", "<h1>site</h1>\n");
    s.file("busybox/hello.txt", "hello\n");
    if let Some(busybox) = require_tool("busybox") {
        fs::create_dir_all(s.path().join("busybox/bin")).unwrap();
        fs::copy(busybox, s.path().join("busybox/bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", s.path().join("busybox/bin/sh")).unwrap();
    }
    s.imgbuild(&[
        "build",
        "busybox",
        "-o",
        "busybox.tar",
        "-t",
        "busybox:1.36",
    ]);
    fs::remove_dir_all(s.path().join("busybox")).unwrap();
    let two = "linux/amd64,linux/arm64";
    s.imgbuild(&["build", "dist", "-o", "app.tar", "-t", "app:1.4"]);
    s.imgbuild(&[
        "build",
        "dist",
        "-o",
        "multi.tar",
        "--platform",
        two,
        "-t",
        "app:1.4",
    ]);
    let layout = ["--format", "oci-dir", "-o", "layout", "-t", "app:1.4"];
    s.imgbuild(&[&["build", "dist", "--platform", two][..], &layout].concat());
    let base = "oci-archive:busybox.tar:busybox:1.36";
    s.imgbuild(&[
        "build",
        "dist",
        "--base",
        base,
        "-o",
        "based.tar",
        "-t",
        "saved:1",
    ]);
    s.imgbuild(&[
        "export",
        "based.tar",
        "--format",
        "docker-archive",
        "-o",
        "saved.tar",
    ]);
    fs::remove_file(s.path().join("based.tar")).unwrap();
    if git {
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args([
                    "-c",
                    "user.name=imgbuild",
                    "-c",
                    "user.email=test@example.invalid",
                ])
                .args(args)
                .current_dir(s.path())
                .env("HOME", s.path().join(".state/home"))
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        };
        fs::write(s.path().join(".gitignore"), ".state/\n").unwrap();
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "the app"]);
    }
    // logout's example removes what a login stored.
    imgbuild_cmd(s.path())
        .env("HOME", s.path().join(".state/home"))
        .args(["login", "ghcr.io", "-u", "ci-bot", "--password-stdin"])
        .write_stdin("a-token\n")
        .assert()
        .success();
}
