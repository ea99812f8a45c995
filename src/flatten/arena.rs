//! The bytes of the flattened tree's names and symlink targets, in one append-only arena
//! addressed by `u32` offsets: no allocation per path. The first `mem_cap` bytes stay in
//! memory; what comes after goes to an unnamed temporary file (read back with `pread`), so a
//! hostile image of long names costs disk, not memory. The tree compacts the arena when
//! most of it is garbage (see `Tree::maybe_compact`), so it stays bounded by what is live.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use anyhow::{Context as _, Result};

use crate::error::invalid;
use crate::layer::parse::MAX_PATH;

/// Bytes kept in memory before the arena spills to a temporary file.
pub const MEM_CAP: usize = 32 << 20;
/// All the bytes an arena may hold (the offsets are `u32`).
pub const MAX_BYTES: u64 = u32::MAX as u64;
/// Bytes written to the file at once.
const PENDING: usize = 256 << 10;

/// Names and targets: `push` gives an offset, `with` reads the bytes back.
#[derive(Debug)]
pub struct Arena {
    mem: Vec<u8>,
    mem_cap: usize,
    /// `mem_cap` as first set (it shrinks to the bytes in memory when the arena spills).
    initial_cap: usize,
    /// Spilled bytes: the file holds `file_len` bytes from offset `mem_cap`, then `pending`.
    file: Option<File>,
    file_len: u64,
    pending: Vec<u8>,
}

impl Default for Arena {
    fn default() -> Arena {
        Arena::with_mem_cap(MEM_CAP)
    }
}

impl Arena {
    /// An arena that spills after `mem_cap` bytes (small caps are for tests).
    pub fn with_mem_cap(mem_cap: usize) -> Arena {
        Arena {
            mem: Vec::new(),
            mem_cap,
            initial_cap: mem_cap,
            file: None,
            file_len: 0,
            pending: Vec::new(),
        }
    }

    /// An empty arena with the same memory cap.
    pub fn fresh(&self) -> Arena {
        Arena::with_mem_cap(self.initial_cap)
    }

    /// Bytes held, garbage included.
    pub fn bytes(&self) -> u64 {
        self.mem.len() as u64 + self.file_len + self.pending.len() as u64
    }

    /// Whether bytes went to the temporary file.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Append `bytes` (at most `MAX_PATH`); their offset.
    pub fn push(&mut self, bytes: &[u8]) -> Result<u32> {
        if bytes.len() > MAX_PATH {
            return Err(invalid(format!(
                "a name or link target longer than {MAX_PATH} bytes"
            )));
        }
        let at = self.bytes();
        if at + bytes.len() as u64 > MAX_BYTES {
            return Err(invalid(format!(
                "the image's names and link targets take more than {MAX_BYTES} bytes"
            )));
        }
        // The offsets fit: at + len <= u32::MAX was just checked.
        let off = at as u32;
        if self.file.is_none() && self.mem.len() + bytes.len() <= self.mem_cap {
            self.mem.extend_from_slice(bytes);
            return Ok(off);
        }
        if self.file.is_none() {
            // Everything from here on is in the file, so that an item never straddles.
            self.mem_cap = self.mem.len();
            self.mem.shrink_to_fit();
            self.file = Some(tempfile::tempfile().context("creating a temporary file")?);
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= PENDING {
            self.flush()?;
        }
        Ok(off)
    }

    fn flush(&mut self) -> Result<()> {
        if let Some(f) = &self.file {
            f.write_all_at(&self.pending, self.mem_cap as u64 + self.file_len)
                .context("writing a temporary file")?;
            self.file_len += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }

    /// `f` of the `len` bytes at `off`.
    pub fn with<R>(&self, off: u32, len: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let (off, end) = (off as usize, off as usize + len);
        if end <= self.mem.len() {
            return Ok(f(&self.mem[off..end]));
        }
        let file_end = self.mem_cap as u64 + self.file_len;
        let bad = || invalid("a name outside the arena (internal error)");
        if off as u64 >= file_end {
            let start = off - file_end as usize;
            let bytes = self.pending.get(start..start + len).ok_or_else(bad)?;
            return Ok(f(bytes));
        }
        let file = self.file.as_ref().ok_or_else(bad)?;
        if len > MAX_PATH || end as u64 > file_end {
            return Err(bad());
        }
        let mut buf = [0u8; MAX_PATH];
        read_exact_at(file, &mut buf[..len], off as u64).context("reading a temporary file")?;
        Ok(f(&buf[..len]))
    }

    /// The bytes at `off`, appended to `out`.
    pub fn read_into(&self, off: u32, len: usize, out: &mut Vec<u8>) -> Result<()> {
        self.with(off, len, |b| out.extend_from_slice(b))
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    file.read_exact_at(buf, off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(a: &Arena, off: u32, len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        a.read_into(off, len, &mut v).unwrap();
        v
    }

    #[test]
    fn bytes_come_back_from_memory_and_from_the_file() {
        let mut a = Arena::with_mem_cap(10);
        let x = a.push(b"hello").unwrap();
        let y = a.push(b"world!").unwrap(); // does not fit in 10: spills
        assert!(a.spilled());
        let mut offs = Vec::new();
        for i in 0..100_000u32 {
            let s = format!("n{i}");
            offs.push((a.push(s.as_bytes()).unwrap(), s));
        }
        assert_eq!(get(&a, x, 5), b"hello");
        assert_eq!(get(&a, y, 6), b"world!");
        for (off, s) in offs.iter().step_by(997) {
            assert_eq!(get(&a, *off, s.len()), s.as_bytes());
        }
        let (off, s) = offs.last().unwrap();
        assert_eq!(get(&a, *off, s.len()), s.as_bytes()); // still pending
        assert!(a.with(x, 5, |b| b == b"hello").unwrap());
        assert!(get(&a, 0, 0).is_empty());
    }

    #[test]
    fn limits_are_errors() {
        let mut a = Arena::default();
        assert!(a.push(&vec![b'x'; MAX_PATH + 1]).is_err());
        assert_eq!(a.push(&vec![b'x'; MAX_PATH]).unwrap(), 0);
        assert!(a.with(4000, 200, |_| ()).is_err());
    }
}
