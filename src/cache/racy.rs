//! Re-checking a hit's racy files: their content, read again, must still hash as recorded.

use std::fs::OpenOptions;
use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};

use super::{Hit, RacyFile};
use crate::cancel::Cancel;
use crate::context::walk::host_path;
use crate::digest::Sha256Sum;
use crate::error::escape_bytes;

impl Hit {
    /// Whether every racy file under the context `root` still has its recorded size and
    /// content (each is read once, without following a symbolic link or blocking on a fifo).
    /// `false` when one differs or is gone or no longer a regular file: the hit does not
    /// hold; [`discard`](Hit::discard) it and build. `Err` when a file cannot be read at all
    /// (the build would fail on it too) or `cancel` is set.
    pub fn racy_files_unchanged(&self, root: &Path, cancel: &Cancel) -> Result<bool> {
        let mut buf = vec![0u8; 1 << 20];
        for racy in &self.racy {
            cancel.check()?;
            if !unchanged(root, racy, &mut buf, cancel)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn unchanged(root: &Path, racy: &RacyFile, buf: &mut [u8], cancel: &Cancel) -> Result<bool> {
    let shown = || format!("reading '{}'", escape_bytes(&racy.rel_path));
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(host_path(root, &racy.rel_path))
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(false),
        Err(e) => return Err(anyhow::Error::new(e).context(shown())),
    };
    let meta = file.metadata().with_context(shown)?;
    if !meta.is_file() || meta.len() != racy.size {
        return Ok(false);
    }
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    let mut reader = (&file).take(racy.size.saturating_add(1));
    loop {
        cancel.check()?;
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context(shown())),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok(total == racy.size && Sha256Sum::from_hasher(hasher) == racy.content)
}
