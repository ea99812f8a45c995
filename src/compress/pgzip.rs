//! Parallel gzip with output bytes that do not depend on the number of threads.
//!
//! The input is cut into fixed 1 MiB blocks. Each block is deflated on a worker thread as
//! raw deflate primed with the previous 32 KiB of input (so the ratio stays that of one
//! stream) and ends with a sync flush, which leaves the stream byte-aligned; the blocks are
//! concatenated in order into one gzip member, followed by an empty final block and the
//! trailer (CRC-32 combined from the blocks' CRCs, input size). This is pigz's scheme.
//!
//! A block that looks incompressible (near-8-bit byte entropy, and samples that a fast
//! deflate cannot shrink) is stored instead of deflated: already-compressed assets cost no
//! compression time, for a size difference of a few bytes per 64 KiB.
//!
//! Every decision depends only on the block's bytes and the level, never on timing or the
//! thread count, so the output is reproducible. Workers keep no compressor state from one
//! block to the next (see `fresh`).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Input bytes per block; fixed, so block boundaries never depend on the thread count.
pub const BLOCK: usize = 1 << 20;
/// Deflate's window: the dictionary handed from one block to the next.
const WINDOW: usize = 32 << 10;
/// gzip header: magic, CM=deflate, no flags, MTIME=0, XFL=0, OS=255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

struct Job {
    data: Vec<u8>,
    dict: Vec<u8>,
    reply: SyncSender<io::Result<Done>>,
}

struct Done {
    bytes: Vec<u8>,
    crc: Crc,
}

/// A streaming gzip writer that compresses blocks on `threads` worker threads.
pub struct ParallelGzip<W: Write> {
    /// Always `Some` until `finish` hands it back.
    inner: Option<W>,
    block: Vec<u8>,
    dict: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    pending: VecDeque<Receiver<io::Result<Done>>>,
    max_pending: usize,
    crc: Crc,
    total_in: u64,
}

impl<W: Write> ParallelGzip<W> {
    /// Write the gzip header to `inner` and start `threads` workers (clamped to 1..=64) compressing at `level`.
    pub fn new(mut inner: W, level: u32, threads: u32) -> io::Result<Self> {
        inner.write_all(&HEADER)?;
        let threads = threads.clamp(1, 64) as usize;
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("gzip-{i}"))
                .spawn(move || worker(&rx, level))?;
            workers.push(handle);
        }
        Ok(ParallelGzip {
            inner: Some(inner),
            block: Vec::with_capacity(BLOCK),
            dict: Vec::new(),
            jobs: Some(tx),
            workers,
            pending: VecDeque::new(),
            max_pending: threads * 2,
            crc: Crc::new(),
            total_in: 0,
        })
    }

    /// Hand the full (or last) block to the workers.
    fn submit(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        while self.pending.len() >= self.max_pending {
            self.write_next()?;
        }
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let dict = std::mem::take(&mut self.dict);
        self.dict = data[data.len().saturating_sub(WINDOW)..].to_vec();
        let (reply, done) = sync_channel(1);
        let jobs = self.jobs.as_ref().ok_or_else(closed)?;
        jobs.send(Job { data, dict, reply }).map_err(|_| closed())?;
        self.pending.push_back(done);
        Ok(())
    }

    /// Wait for the oldest block and write it out.
    fn write_next(&mut self) -> io::Result<()> {
        let Some(rx) = self.pending.pop_front() else {
            return Ok(());
        };
        let done = rx.recv().map_err(|_| closed())??;
        self.crc.combine(&done.crc);
        self.out()?.write_all(&done.bytes)
    }

    fn out(&mut self) -> io::Result<&mut W> {
        self.inner.as_mut().ok_or_else(closed)
    }

    /// Compress what is left, write the final block and trailer, and return the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit()?;
        while !self.pending.is_empty() {
            self.write_next()?;
        }
        let mut trailer = [0u8; 10];
        trailer[..2].copy_from_slice(&FINAL_BLOCK);
        trailer[2..6].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[6..].copy_from_slice(&(self.total_in as u32).to_le_bytes());
        let out = self.out()?;
        out.write_all(&trailer)?;
        out.flush()?;
        self.stop();
        self.inner.take().ok_or_else(closed)
    }

    fn stop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        self.pending.clear();
        self.stop();
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.total_in += n as u64;
        if self.block.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing mid-stream would move block boundaries; blocks are written as they finish.
        Ok(())
    }
}

fn closed() -> io::Error {
    io::Error::other("a gzip worker thread stopped unexpectedly")
}

fn worker(rx: &Mutex<Receiver<Job>>, level: u32) {
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            match guard.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let result = compress_block(&job.data, &job.dict, level);
        let _ = job.reply.send(result);
    }
}

/// A compressor that has seen nothing. A worker never reuses one: zlib-rs keeps its window
/// across `reset` and builds `set_dictionary` on it, so a reused compressor carries the
/// block it did before into the next one, and which blocks a worker gets depends on timing.
/// A fresh one starts from zeroed memory, so every run is a function of its input alone.
fn fresh(level: u32) -> Compress {
    Compress::new(Compression::new(level), false)
}

/// Bytes per classification segment: each is either deflated or stored.
const SEGMENT: usize = 32 << 10;

fn compress_block(data: &[u8], dict: &[u8], level: u32) -> io::Result<Done> {
    let mut crc = Crc::new();
    crc.update(data);
    let mut bytes = Vec::with_capacity(data.len() + data.len() / 8 + 1024);
    // Runs of segments of the same kind: stored runs are copied, deflated runs are
    // compressed on their own. The first run of a block is primed with the previous
    // block's last 32 KiB; a later deflated run follows a stored (incompressible) segment of
    // at least 32 KiB, which would give no matches, so it gets no dictionary.
    let kinds = data
        .chunks(SEGMENT)
        .map(looks_incompressible)
        .collect::<io::Result<Vec<bool>>>()?;
    let mut first = 0;
    while first < kinds.len() {
        let store = kinds[first];
        let last = (first..kinds.len())
            .take_while(|&i| kinds[i] == store)
            .last()
            .unwrap_or(first);
        let (at, end) = (first * SEGMENT, ((last + 1) * SEGMENT).min(data.len()));
        if store {
            stored(&data[at..end], &mut bytes);
        } else {
            let mut deflate = fresh(level);
            if at == 0 && !dict.is_empty() {
                deflate.set_dictionary(dict).map_err(io::Error::other)?;
            }
            run(&mut deflate, &data[at..end], &mut bytes)?;
        }
        first = last + 1;
    }
    Ok(Done { bytes, crc })
}

/// Deflate all of `data` and sync-flush, appending to `out` and growing it as needed.
fn run(c: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.reserve(data.len() / 2 + 1024);
    let start = c.total_in();
    loop {
        let consumed = (c.total_in() - start) as usize;
        let status = c
            .compress_vec(&data[consumed..], out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let all_in = (c.total_in() - start) as usize == data.len();
        if all_in && out.len() < out.capacity() {
            return Ok(());
        }
        if status == Status::BufError && out.len() < out.capacity() {
            return Err(io::Error::other("deflate made no progress"));
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// Stored (uncompressed) deflate blocks, not final, byte-aligned at both ends.
fn stored(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 65535 * 5 + 5);
    for chunk in data.chunks(65535) {
        let len = chunk.len() as u16;
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

/// True when deflate would not shrink this segment: its byte entropy is all but 8 bits, or
/// close to 8 bits and the fastest deflate level cannot take 1% off it (repeats would show).
/// Short segments are always deflated.
fn looks_incompressible(data: &[u8]) -> io::Result<bool> {
    if data.len() < SEGMENT / 4 {
        return Ok(false);
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    let n = data.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    if entropy < 7.9 {
        return Ok(false);
    }
    if entropy >= 7.99 {
        // Only data without structure gets this close to 8 bits per byte in 32 KiB (a
        // repeated pattern, even a random one, scores lower): no need to probe.
        return Ok(true);
    }
    let mut out = Vec::with_capacity(data.len() + 1024);
    run(&mut fresh(1), data, &mut out)?;
    Ok(out.len() * 100 >= data.len() * 99)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reproducibility_tests;
