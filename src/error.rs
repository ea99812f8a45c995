//! The few typed errors that code branches on, their hints, and their exit-code class.
//!
//! Everything else travels as `anyhow::Error` with context added where the object is known;
//! `ui::report` walks the chain, finds the first typed error and picks the exit code from it.

use std::fmt;

/// How the process should end for a given error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: the operation failed (I/O, disk full, unreadable or changing file).
    Failure,
    /// 2: the command line is wrong.
    Usage,
    /// 3: the input was rejected (special file, invalid or unsafe image).
    Rejected,
    /// 130 / 143: interrupted by SIGINT / SIGTERM.
    Interrupted(i32),
}

impl ExitClass {
    pub fn code(self) -> u8 {
        match self {
            ExitClass::Failure => 1,
            ExitClass::Usage => 2,
            ExitClass::Rejected => 3,
            ExitClass::Interrupted(sig) => (128 + sig).clamp(0, 255) as u8,
        }
    }
}

/// A bad flag value or argument, found before any work is done (exit 2).
#[derive(Debug)]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UsageError {}

/// A file in the build context that cannot be stored in a layer (exit 3).
#[derive(Debug)]
pub struct SpecialFile {
    /// Path relative to the context root, already escaped for display.
    pub path: String,
    pub kind: &'static str,
}

impl fmt::Display for SpecialFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is a {}, which imgbuild refuses to put in an image layer",
            self.path, self.kind
        )
    }
}

impl std::error::Error for SpecialFile {}

/// A file that changed size or identity while it was being read (exit 1).
#[derive(Debug)]
pub struct FileChanged {
    pub path: String,
    pub what: &'static str,
}

impl fmt::Display for FileChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "file changed while being read: '{}' ({})",
            self.path, self.what
        )
    }
}

impl std::error::Error for FileChanged {}

/// The user pressed Ctrl-C or the process got SIGTERM or SIGHUP; temporary files are removed
/// on unwind.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            libc::SIGTERM => write!(f, "interrupted by SIGTERM"),
            libc::SIGHUP => write!(f, "interrupted by SIGHUP"),
            libc::SIGINT => write!(f, "interrupted by SIGINT"),
            n => write!(f, "interrupted by signal {n}"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Classify an error chain and find the hint to print after it, if any.
pub fn classify(err: &anyhow::Error) -> (ExitClass, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Interrupted>() {
            return (ExitClass::Interrupted(e.0), None);
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return (ExitClass::Usage, e.hint.clone());
        }
        if cause.downcast_ref::<SpecialFile>().is_some() {
            return (
                ExitClass::Rejected,
                Some(
                    "remove it from the context, or list it in .dockerignore \
                     (sockets are skipped; fifos and devices are refused and never opened)"
                        .into(),
                ),
            );
        }
        if cause.downcast_ref::<FileChanged>().is_some() {
            return (
                ExitClass::Failure,
                Some(
                    "another process is writing into the build context; \
                     build from a quiet tree or exclude the file in .dockerignore"
                        .into(),
                ),
            );
        }
        if cause.downcast_ref::<UnreadableImage>().is_some() {
            return (ExitClass::Failure, Some(UNREADABLE_IMAGE_HINT.into()));
        }
        if cause.downcast_ref::<InvalidImage>().is_some()
            || cause.downcast_ref::<crate::digest::VerifyError>().is_some()
        {
            return (ExitClass::Rejected, None);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|e| e.downcast_ref::<crate::digest::VerifyError>().is_some())
            {
                return (ExitClass::Rejected, None);
            }
            match io.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    return (
                        ExitClass::Failure,
                        Some(
                            "fix its permissions, or add it to .dockerignore to exclude it".into(),
                        ),
                    );
                }
                std::io::ErrorKind::StorageFull => {
                    return (
                        ExitClass::Failure,
                        Some("free some space on the output's filesystem and run again".into()),
                    );
                }
                _ => {}
            }
        }
    }
    (ExitClass::Failure, None)
}

/// True when the chain is a closed pipe (the reader of our stdout went away).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Render bytes of a path or other untrusted text for a message: valid UTF-8 is kept,
/// control characters and invalid bytes are escaped so nothing reaches the terminal raw.
/// The one implementation is `ui::escape`, which the Printer also applies to every message.
pub fn escape_bytes(bytes: &[u8]) -> String {
    crate::ui::escape_bytes(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(ExitClass::Failure.code(), 1);
        assert_eq!(ExitClass::Usage.code(), 2);
        assert_eq!(ExitClass::Rejected.code(), 3);
        assert_eq!(ExitClass::Interrupted(libc::SIGINT).code(), 130);
        assert_eq!(ExitClass::Interrupted(libc::SIGTERM).code(), 143);
    }

    #[test]
    fn classify_finds_typed_error_under_context() {
        let err = anyhow::Error::new(SpecialFile {
            path: "dev/tty".into(),
            kind: "character device",
        })
        .context("adding 'dev/tty' to the layer");
        let (class, hint) = classify(&err);
        assert_eq!(class, ExitClass::Rejected);
        assert!(hint.unwrap().contains(".dockerignore"));
        let err = anyhow::Error::new(UsageError::new("bad")).context("x");
        assert_eq!(classify(&err).0, ExitClass::Usage);
        assert_eq!(classify(&anyhow::anyhow!("plain")).0, ExitClass::Failure);
    }

    #[test]
    fn escapes_control_and_invalid_bytes() {
        assert_eq!(escape_bytes(b"a\nb"), "a\\nb");
        assert_eq!(escape_bytes(b"caf\xc3\xa9"), "café");
        assert_eq!(escape_bytes(b"x\xff\x1b[31m"), "x\\xff\\u{1b}[31m");
    }
}

/// An image read from disk that is invalid or unsafe (exit 3). The message names the
/// document, blob or member at fault.
#[derive(Debug)]
pub struct InvalidImage(pub String);

impl fmt::Display for InvalidImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidImage {}

/// Shorthand for an `InvalidImage` error.
pub fn invalid(msg: impl Into<String>) -> anyhow::Error {
    InvalidImage(msg.into()).into()
}

/// A file of an image read from disk that cannot be opened or read for lack of permission
/// (exit 1). It wraps the `io::Error`, so the chain still shows the OS's reason; the hint
/// speaks of the image, not of the build context.
#[derive(Debug)]
pub struct UnreadableImage {
    /// The path, already escaped for display.
    pub path: String,
    pub source: std::io::Error,
}

/// The hint printed after an `UnreadableImage`.
pub const UNREADABLE_IMAGE_HINT: &str =
    "make the image readable by this user (every file of a layout, or the archive itself)";

impl fmt::Display for UnreadableImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read image file '{}'", self.path)
    }
}

impl std::error::Error for UnreadableImage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `err` (an I/O error on `path`, a file of an image) marked as `UnreadableImage` when it is
/// a permission error, so that its hint fits an image; other errors get `path` as context.
pub fn image_io(err: std::io::Error, path: &std::path::Path) -> anyhow::Error {
    let shown = escape_bytes(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
    if err.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::Error::new(UnreadableImage {
            path: shown,
            source: err,
        })
    } else {
        anyhow::Error::new(err).context(format!("opening '{shown}'"))
    }
}

#[cfg(test)]
mod image_io_tests {
    use super::*;

    #[test]
    fn unreadable_image_files_get_an_image_hint() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = image_io(denied, std::path::Path::new("img/blobs/sha256/ab"))
            .context("reading image 'img'");
        let (class, hint) = classify(&err);
        assert_eq!(class, ExitClass::Failure);
        let hint = hint.unwrap();
        assert!(hint.contains("image"), "{hint}");
        assert!(!hint.contains(".dockerignore"), "{hint}");
        assert!(format!("{err:#}").contains("cannot read image file 'img/blobs/sha256/ab'"));
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        let err = image_io(gone, std::path::Path::new("img"));
        assert_eq!(classify(&err), (ExitClass::Failure, None));
    }
}
