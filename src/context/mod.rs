//! Stage 1 of the pipeline, the walk: the build context on disk becomes an ordered list of
//! `ContextEntry` values (metadata only; contents are read later, once, by the layer writer).
//!
//! Order: depth first, a directory before its children, siblings sorted by the raw bytes of
//! their names. So `a/` comes before `a/b`, which comes before `a.txt`.

pub mod dockerignore;
pub mod split;
pub mod walk;

pub use walk::{IgnoreOptions, OutputInContext, walk};

/// What kind of thing an entry is, as stored in the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, with its target exactly as stored on disk (never followed).
    Symlink(Vec<u8>),
    /// A second (third, ...) path of a regular file with several links: the value is the
    /// context-relative path of the first path of the group in entry order.
    HardLink(Vec<u8>),
}

/// One file, directory or link of the context, with the metadata its tar header needs and
/// what the layer writer needs to notice a file that changes while it is read.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    /// Path relative to the context root, `/`-separated, no leading `./`, no trailing `/`.
    pub rel_path: Vec<u8>,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// Content size for regular files, 0 for everything else.
    pub size: u64,
    /// Modification time in whole seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds part of the modification time, to notice a change while the file is read.
    pub mtime_nsec: i64,
    /// Status change time in whole seconds (`st_ctime`), to notice a change while the file is read.
    pub ctime: i64,
    /// Nanoseconds part of the status change time.
    pub ctime_nsec: i64,
    /// Device of the file (`st_dev`); with `ino` it identifies hard links of one file.
    pub dev: u64,
    /// Inode number (`st_ino`).
    pub ino: u64,
    /// Number of hard links (`st_nlink`).
    pub nlink: u64,
}

impl ContextEntry {
    /// The path, escaped for display in messages.
    pub fn display_path(&self) -> String {
        crate::error::escape_bytes(&self.rel_path)
    }
}

/// A path left out of the layer, and why (listed by `-v`).
#[derive(Debug, Clone)]
pub struct Ignored {
    /// Path relative to the context root, as in [`ContextEntry::rel_path`].
    pub rel_path: Vec<u8>,
    /// Whether it is a directory (left out with everything beneath it).
    pub is_dir: bool,
    /// The rule that left it out; `Display` gives the text `-v` prints.
    pub reason: IgnoreReason,
}

/// What the walk left out, when it left anything out: `6 paths (.dockerignore 4,
/// .gitignore 1, .git 1; -v lists them)`. Paths beneath an excluded
/// directory count for the file whose pattern excluded it.
pub fn ignored_summary(ignored: &[Ignored]) -> Option<String> {
    if ignored.is_empty() {
        return None;
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut last_file = ".dockerignore".to_owned();
    for i in ignored {
        let name = match &i.reason {
            IgnoreReason::IgnoreFile { source, .. } => {
                last_file = source.clone();
                source.clone()
            }
            IgnoreReason::InsideExcluded => last_file.clone(),
            IgnoreReason::Gitignore { .. } => ".gitignore".to_owned(),
            IgnoreReason::Git => ".git".to_owned(),
            IgnoreReason::Output => "the output".to_owned(),
        };
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(n, c)| format!("{n} {c}")).collect();
    let n = ignored.len();
    Some(format!(
        "{n} path{} ({}; -v lists them)",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    ))
}

/// Which rule left a path out of the layer. Code decides from the variant (a `.gitignore`
/// prunes a directory, a `.dockerignore` exception may still reach beneath one); `Display`
/// renders it for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A pattern of `.dockerignore` or of `--ignore-file` (Docker's semantics).
    IgnoreFile {
        /// The file the pattern is in, as shown to the user.
        source: String,
        /// Its 1-based line number there.
        line: usize,
        /// The pattern as written.
        pattern: String,
    },
    /// A pattern of a `.gitignore` file inside the context (git's semantics).
    Gitignore {
        /// That `.gitignore`, context-relative and escaped for display.
        file: String,
        /// The pattern as written.
        pattern: String,
    },
    /// `.git`, which is never included.
    Git,
    /// Beneath a directory an ignore-file pattern excluded, with no exception of its own.
    InsideExcluded,
    /// The build's own output file, or a temporary file beside it.
    Output,
}

impl std::fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IgnoreReason::IgnoreFile {
                source,
                line,
                pattern,
            } => write!(f, "excluded by {source}:{line}: {pattern}"),
            IgnoreReason::Gitignore { file, pattern } => {
                write!(f, "excluded by {file}: {pattern}")
            }
            IgnoreReason::Git => f.write_str(".git is never included"),
            IgnoreReason::InsideExcluded => f.write_str("inside an excluded directory"),
            IgnoreReason::Output => f.write_str("the output of this build"),
        }
    }
}

/// The walked context: entries in layer order, plus what was left out and why.
#[derive(Debug, Default)]
pub struct Context {
    /// Entries in layer order.
    pub entries: Vec<ContextEntry>,
    /// What was left out, and why.
    pub ignored: Vec<Ignored>,
    /// Paths of sockets that were skipped (a warning each).
    pub sockets: Vec<Vec<u8>>,
}

impl Context {
    /// Number of regular files (hard links counted once).
    pub fn file_count(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .count() as u64
    }

    /// Total bytes of file content that will be read.
    pub fn content_bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| e.size)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::{IgnoreReason, Ignored, ignored_summary};

    #[test]
    fn the_summary_counts_paths_by_the_file_that_ignored_them() {
        let at = |reason: IgnoreReason| Ignored {
            rel_path: b"x".to_vec(),
            is_dir: false,
            reason,
        };
        let docker = || IgnoreReason::IgnoreFile {
            source: ".dockerignore".into(),
            line: 1,
            pattern: "x".into(),
        };
        let git = || IgnoreReason::Gitignore {
            file: ".gitignore".into(),
            pattern: "*.log".into(),
        };
        assert_eq!(ignored_summary(&[]), None);
        let all = [
            at(IgnoreReason::Git),
            at(docker()),
            at(IgnoreReason::InsideExcluded),
            at(IgnoreReason::InsideExcluded),
            at(git()),
            at(docker()),
        ];
        assert_eq!(
            ignored_summary(&all).unwrap(),
            "6 paths (.git 1, .dockerignore 4, .gitignore 1; -v lists them)"
        );
        assert_eq!(
            ignored_summary(&all[..1]).unwrap(),
            "1 path (.git 1; -v lists them)"
        );
    }

    #[test]
    fn reasons_render_as_v_prints_them() {
        let file = IgnoreReason::IgnoreFile {
            source: ".dockerignore".into(),
            line: 2,
            pattern: "*.md".into(),
        };
        assert_eq!(file.to_string(), "excluded by .dockerignore:2: *.md");
        let git = IgnoreReason::Gitignore {
            file: "sub/.gitignore".into(),
            pattern: "*.log".into(),
        };
        assert_eq!(git.to_string(), "excluded by sub/.gitignore: *.log");
        assert_eq!(IgnoreReason::Git.to_string(), ".git is never included");
        assert_eq!(
            IgnoreReason::InsideExcluded.to_string(),
            "inside an excluded directory"
        );
        assert_eq!(IgnoreReason::Output.to_string(), "the output of this build");
    }
}
