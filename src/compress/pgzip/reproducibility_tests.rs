use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// xorshift64 state step.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// ≥ 16 MiB of mixed data whose kinds change at odd offsets, so that block and segment
/// boundaries fall inside every kind: text, random bytes, a repeated random pattern, runs
/// of zeros, and data whose byte entropy sits near the stored/deflated threshold.
pub(crate) fn mixed(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let words: [&[u8]; 6] = [b"layer ", b"image ", b"digest ", b"tar ", b"\n", b"oci "];
    let pattern: Vec<u8> = (0..3000).map(|_| next(&mut x) as u8).collect();
    let mut out = Vec::with_capacity(len + 300_000);
    while out.len() < len {
        let run = 20_000 + (next(&mut x) % 280_000) as usize;
        let end = out.len() + run;
        match next(&mut x) % 6 {
            0 => {
                while out.len() < end {
                    out.extend_from_slice(words[(next(&mut x) % 6) as usize]);
                }
            }
            1 => out.extend((0..run).map(|_| next(&mut x) as u8)),
            2 => {
                while out.len() < end {
                    out.extend_from_slice(&pattern);
                }
            }
            3 => out.resize(end, 0),
            4 => {
                // Mostly random with a small bias: entropy between 7.9 and 7.99 bits.
                out.extend((0..run).map(|_| {
                    let v = next(&mut x);
                    if v % 23 == 0 { b'e' } else { (v >> 8) as u8 }
                }))
            }
            _ => {
                // Random bytes with short repeats: high entropy, a little to match.
                while out.len() < end {
                    let v = next(&mut x);
                    let n = 8 + (v % 64) as usize;
                    if v % 5 == 0 && out.len() > 1000 {
                        let from = out.len() - 1 - (v >> 20) as usize % 900;
                        for i in 0..n {
                            out.push(out[from + i]);
                        }
                    } else {
                        out.extend((0..n).map(|_| next(&mut x) as u8));
                    }
                }
            }
        }
    }
    out.truncate(len);
    out
}

/// Blocks of random bytes from small alphabets: each is deflated whole, primed with the
/// previous block's tail, and has many equally good matches, so deflate's choice among
/// them shows any state a compressor kept from the block it did before (zlib-rs keeps
/// its window across `reset`, and `set_dictionary` then builds on it).
pub(crate) fn small_alphabets(blocks: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let alphabets: [&[u8]; 3] = [&[0, b'A'], &[0, b'A', 0x81, b'B'], b"abcdefgh"];
    let mut out = Vec::with_capacity(blocks * BLOCK);
    for i in 0..blocks {
        let alphabet = alphabets[i % alphabets.len()];
        out.extend((0..BLOCK).map(|_| alphabet[(next(&mut x) % alphabet.len() as u64) as usize]));
    }
    out
}

fn gzip(data: &[u8], threads: u32) -> Vec<u8> {
    let mut g = ParallelGzip::new(Vec::new(), 6, threads).unwrap();
    for chunk in data.chunks(256 << 10) {
        g.write_all(chunk).unwrap();
    }
    g.finish().unwrap()
}

/// See: issue #9. The same input gives the same bytes with 2, 3, 4 and 8 workers, run
/// after run, while other threads compete for the CPU (so which worker takes which
/// block varies from run to run).
#[test]
fn issue_9_same_bytes_under_any_scheduling() {
    let mut data = mixed(8 << 20);
    data.extend(small_alphabets(8));
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..10_000 {
                        next(&mut x);
                    }
                    std::hint::black_box(x);
                }
            });
        }
        let reference = gzip(&data, 1);
        let mut failures = Vec::new();
        for round in 0..3 {
            for threads in [2, 3, 4, 8] {
                let out = gzip(&data, threads);
                if out != reference {
                    failures.push(format!(
                        "round {round}, {threads} threads: {} bytes vs {}",
                        out.len(),
                        reference.len()
                    ));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "outputs differ: {failures:?}");
    });
}
