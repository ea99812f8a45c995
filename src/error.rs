//! The library's error type, [`Error`] with its [`ErrorKind`] and hint, and the few typed
//! markers that code branches on.
//!
//! Inside the library errors travel as `anyhow::Error` with context added where the object is
//! known. A public entry point turns the chain into an [`Error`], which finds the first typed
//! marker along it once; `ui::report` picks the exit code and the hint from that.

use std::fmt;

/// What kind of failure an [`Error`] is. The CLI maps each kind to an exit code (see the man
/// page's EXIT STATUS); a library caller can branch on it without reading any message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operation failed: I/O, a full disk, an unreadable file, a file that changed while
    /// it was read, the environment (exit 1).
    Failure,
    /// The request itself is wrong: a bad flag value, argument or option (exit 2).
    Usage,
    /// The input was rejected: a special file in the context, an invalid or unsafe image, a
    /// verification failure (exit 3).
    Rejected,
    /// Interrupted by the signal with this number (SIGINT, SIGTERM, SIGHUP; exit 128 + it).
    Interrupted(i32),
    /// Cancelled by the caller ([`Cancel::cancel`](crate::Cancel::cancel)).
    Cancelled,
    /// The reader of our output went away (a closed pipe). The CLI prints nothing for it.
    BrokenPipe,
}

/// The error of the library's public entry points: an error chain (the message, then its
/// causes, outermost first), classified once into an [`ErrorKind`], with the hint to show
/// after it when the user can fix the problem.
///
/// `Display` writes the message followed by its causes (`reading 'a': permission denied`);
/// [`Error::chain`] gives them one by one, and `source()` starts at the first cause.
pub struct Error {
    kind: ErrorKind,
    hint: Option<String>,
    inner: anyhow::Error,
}

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What kind of failure this is; the CLI's exit code follows from it.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The message and then each of its causes, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
        self.inner.chain()
    }

    /// The chain as an `anyhow::Error` again, every message and typed marker kept (to
    /// add context to it, or to hand it on where `anyhow` is used).
    pub fn into_anyhow(self) -> anyhow::Error {
        self.inner
    }

    /// The first error of the chain that is an `E` (for example a
    /// [`VerifyError`](crate::digest::VerifyError)), to read its fields.
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.chain().find_map(|c| c.downcast_ref::<E>())
    }
}

impl From<anyhow::Error> for Error {
    /// Classify the chain once, keeping every message of it.
    fn from(inner: anyhow::Error) -> Self {
        // An `Error` that went through `?` into an `anyhow::Error` comes back as it was.
        let inner = match inner.downcast::<Error>() {
            Ok(e) => return e,
            Err(inner) => inner,
        };
        let (kind, hint) = if is_broken_pipe(&inner) {
            (ErrorKind::BrokenPipe, None)
        } else {
            classify(&inner)
        };
        Error { kind, hint, inner }
    }
}

impl From<Interrupted> for Error {
    fn from(e: Interrupted) -> Self {
        Error::from(anyhow::Error::new(e))
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::from(anyhow::Error::new(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.inner)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chain: Vec<String> = self.chain().map(ToString::to_string).collect();
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("hint", &self.hint)
            .field("chain", &chain)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.chain().nth(1)
    }
}

/// A bad flag value or argument, found before any work is done (exit 2).
#[derive(Debug)]
pub struct UsageError {
    /// What is wrong, naming the flag or argument.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
}

impl UsageError {
    /// A usage error with this message and no hint.
    pub fn new(message: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: None,
        }
    }

    /// The same error with a hint to print after it.
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
    /// What it is: "fifo", "character device", ...
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

/// A registry request that failed (exit 1): the message names the host, repository and
/// step; the hint says what to try (`--ca-cert`, `--insecure-registry`, `imgbuild login`).
#[derive(Debug)]
pub struct RemoteError {
    /// One line: `HOST/REPO: STEP: what happened`.
    pub message: String,
    /// What the user can do, when there is something to say.
    pub hint: Option<String>,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

/// A file that changed size or identity while it was being read (exit 1).
#[derive(Debug)]
pub struct FileChanged {
    /// Path relative to the context root, already escaped for display.
    pub path: String,
    /// How it changed ("it grew", "it shrank", ...).
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

/// The operation was cancelled ([`Cancel`](crate::Cancel)): the user pressed Ctrl-C, the
/// process got SIGTERM or SIGHUP (the signal's number), or the caller cancelled
/// ([`Interrupted::CANCELLED`]). Temporary files are removed on unwind.
#[derive(Debug)]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// The value for a cancellation by the caller rather than a signal.
    pub const CANCELLED: i32 = -1;
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Interrupted::CANCELLED => write!(f, "cancelled"),
            libc::SIGTERM => write!(f, "interrupted by SIGTERM"),
            libc::SIGHUP => write!(f, "interrupted by SIGHUP"),
            libc::SIGINT => write!(f, "interrupted by SIGINT"),
            n => write!(f, "interrupted by signal {n}"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Classify an error chain and find the hint to print after it, if any: the first typed
/// marker along the chain decides. Callers use [`Error::kind`] and [`Error::hint`].
fn classify(err: &anyhow::Error) -> (ErrorKind, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return (e.kind, e.hint.clone());
        }
        if let Some(e) = cause.downcast_ref::<Interrupted>() {
            if e.0 == Interrupted::CANCELLED {
                return (ErrorKind::Cancelled, None);
            }
            return (ErrorKind::Interrupted(e.0), None);
        }
        if let Some(e) = cause.downcast_ref::<UsageError>() {
            return (ErrorKind::Usage, e.hint.clone());
        }
        if cause.downcast_ref::<SpecialFile>().is_some() {
            return (
                ErrorKind::Rejected,
                Some(
                    "remove it from the context, or list it in .dockerignore \
                     (sockets are skipped; fifos and devices are refused and never opened)"
                        .into(),
                ),
            );
        }
        if let Some(e) = cause.downcast_ref::<RemoteError>() {
            return (ErrorKind::Failure, e.hint.clone());
        }
        if cause.downcast_ref::<FileChanged>().is_some() {
            return (
                ErrorKind::Failure,
                Some(
                    "another process is writing into the build context; \
                     build from a quiet tree or exclude the file in .dockerignore"
                        .into(),
                ),
            );
        }
        if cause.downcast_ref::<UnreadableImage>().is_some() {
            return (ErrorKind::Failure, Some(UNREADABLE_IMAGE_HINT.into()));
        }
        if cause.downcast_ref::<InvalidImage>().is_some()
            || cause.downcast_ref::<MissingFromImage>().is_some()
            || cause.downcast_ref::<crate::digest::VerifyError>().is_some()
        {
            return (ErrorKind::Rejected, None);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io
                .get_ref()
                .is_some_and(|e| e.downcast_ref::<crate::digest::VerifyError>().is_some())
            {
                return (ErrorKind::Rejected, None);
            }
            match io.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    return (
                        ErrorKind::Failure,
                        Some(
                            "fix its permissions, or add it to .dockerignore to exclude it".into(),
                        ),
                    );
                }
                std::io::ErrorKind::StorageFull => {
                    return (
                        ErrorKind::Failure,
                        Some("free some space on the output's filesystem and run again".into()),
                    );
                }
                _ => {}
            }
        }
    }
    (ErrorKind::Failure, None)
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
mod tests;

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

/// A document, blob or archive member that an image should hold is absent (exit 3, like
/// [`InvalidImage`]). Code that turns "absent" into a better message checks for this type.
#[derive(Debug)]
pub struct MissingFromImage(pub String);

impl fmt::Display for MissingFromImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MissingFromImage {}

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
    /// The operating system's error.
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
mod image_io_tests;
