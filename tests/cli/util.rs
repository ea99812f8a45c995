//! TestContext: a temporary directory with a build context built in code (git cannot store
//! empty directories, hard links, setuid bits or mtimes), and a clean command for the binary.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub struct TestContext {
    dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl TestContext {
    pub fn new() -> TestContext {
        let dir = tempfile::Builder::new()
            .prefix("imgbuild-test-")
            .tempdir()
            .expect("creating a temporary directory");
        fs::create_dir(dir.path().join("ctx")).unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        TestContext { dir }
    }

    /// The temporary root (holds `ctx/` and `out/`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The build context directory.
    pub fn ctx(&self) -> PathBuf {
        self.root().join("ctx")
    }

    /// A path in the output directory.
    pub fn out(&self, name: &str) -> PathBuf {
        self.root().join("out").join(name)
    }

    fn at(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.ctx().join(OsStr::from_bytes(rel.as_ref()))
    }

    pub fn file(&self, rel: impl AsRef<[u8]>, content: impl AsRef<[u8]>) -> &Self {
        let p = self.at(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, content).unwrap();
        self
    }

    pub fn mode(&self, rel: impl AsRef<[u8]>, mode: u32) -> &Self {
        fs::set_permissions(self.at(rel), fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn dir(&self, rel: impl AsRef<[u8]>) -> &Self {
        fs::create_dir_all(self.at(rel)).unwrap();
        self
    }

    pub fn symlink(&self, rel: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &Self {
        let p = self.at(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        std::os::unix::fs::symlink(OsStr::from_bytes(target.as_ref()), p).unwrap();
        self
    }

    pub fn hardlink(&self, rel: impl AsRef<[u8]>, existing: impl AsRef<[u8]>) -> &Self {
        fs::hard_link(self.at(existing), self.at(rel)).unwrap();
        self
    }

    /// Set the mtime (and atime) of a path, not following symlinks.
    pub fn mtime(&self, rel: impl AsRef<[u8]>, secs: i64) -> &Self {
        set_mtime(&self.at(rel), secs);
        self
    }

    /// Set every mtime in the context to `secs`.
    pub fn mtime_all(&self, secs: i64) -> &Self {
        fn walk(p: &Path, secs: i64) {
            if p.is_dir() && !p.is_symlink() {
                for e in fs::read_dir(p).unwrap() {
                    walk(&e.unwrap().path(), secs);
                }
            }
            set_mtime(p, secs);
        }
        walk(&self.ctx(), secs);
        self
    }

    /// A fifo at `rel`.
    pub fn fifo(&self, rel: &str) -> &Self {
        let p = std::ffi::CString::new(self.at(rel).as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
        self
    }

    /// The binary with a clean environment, run from the temporary root.
    pub fn cmd(&self) -> Command {
        imgbuild_cmd(self.root())
    }

    /// `imgbuild build ctx -o out/NAME ARGS...` with a fixed epoch, quiet.
    pub fn build(&self, name: &str, args: &[&str]) -> Command {
        let mut c = self.cmd();
        c.args(["build", "ctx", "-o"])
            .arg(self.out(name))
            .args(args);
        c
    }
}

impl TestContext {
    /// `build` with SOURCE_DATE_EPOCH=1700000000, which must succeed: its digest line.
    pub fn build_digest(&self, name: &str, args: &[&str]) -> String {
        let out = self
            .build(name, args)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .assert()
            .success()
            .stdout(predicates::str::is_match(DIGEST_LINE).unwrap())
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap().trim().to_owned()
    }
}

/// The binary with a clean environment (PATH only), in `dir`.
pub fn imgbuild_cmd(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imgbuild"));
    // The layer cache of tests stays in the target directory, not the user's cache.
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .current_dir(dir);
    c
}

pub fn set_mtime(p: &Path, secs: i64) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: valid path and two timespecs, as utimensat requires.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "utimensat {}", p.display());
}

/// The regex a digest line matches.
pub const DIGEST_LINE: &str = "^sha256:[0-9a-f]{64}\n$";

/// Names in a directory, sorted.
pub fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
