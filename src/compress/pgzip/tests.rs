use super::*;
use std::io::Read;

fn gzip(data: &[u8], level: u32, threads: u32, write_size: usize) -> Vec<u8> {
    let mut g = ParallelGzip::new(Vec::new(), level, threads).unwrap();
    for chunk in data.chunks(write_size.max(1)) {
        g.write_all(chunk).unwrap();
    }
    g.finish().unwrap()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // A single-member decoder: the output must be one gzip member.
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// `len` pseudo-random bytes (xorshift64) from `seed`.
fn noise(mut x: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Mixed data: random runs, text runs, and a repeated random pattern.
fn sample(len: usize) -> Vec<u8> {
    let mut x: u64 = 88172645463325252;
    let mut out = Vec::with_capacity(len);
    let pattern: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    while out.len() < len {
        let kind = out.len() / 300_000 % 3;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match kind {
                0 => out.push(x as u8),
                1 => out.extend_from_slice(b"the layer "),
                _ => out.push(pattern[out.len() % pattern.len()]),
            }
        }
    }
    out.truncate(len);
    out
}

#[test]
fn round_trips_as_one_gzip_member() {
    for len in [0, 1, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345] {
        let data = sample(len);
        let gz = gzip(&data, 6, 2, 100_000);
        assert_eq!(gunzip(&gz), data, "length {len}");
    }
}

#[test]
fn bytes_do_not_depend_on_threads_or_write_sizes() {
    let data = sample(5 * BLOCK + 777);
    let one = gzip(&data, 6, 1, 1 << 20);
    assert_eq!(gzip(&data, 6, 2, 4096), one);
    assert_eq!(gzip(&data, 6, 7, 333_333), one);
}

#[test]
fn incompressible_blocks_are_stored_and_text_is_compressed() {
    let random = noise(7, 2 * BLOCK);
    let gz = gzip(&random, 6, 2, BLOCK);
    assert!(
        gz.len() < random.len() + random.len() / 1000,
        "stored: {}",
        gz.len()
    );
    assert_eq!(gunzip(&gz), random);
    let text = b"hello layer ".repeat(200_000);
    assert!(gzip(&text, 6, 2, BLOCK).len() < text.len() / 50);
}

#[test]
fn repeated_random_pattern_is_not_mistaken_for_noise() {
    // High byte entropy, but deflate finds the repeats within its window.
    let data = noise(99, 8192).repeat(256);
    let gz = gzip(&data, 6, 2, BLOCK);
    assert!(gz.len() < data.len() / 10, "{}", gz.len());
    assert_eq!(gunzip(&gz), data);
}

#[test]
fn ratio_close_to_a_single_stream() {
    let data = sample(4 * BLOCK);
    let ours = gzip(&data, 6, 2, BLOCK).len() as f64;
    let mut single = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    single.write_all(&data).unwrap();
    let single = single.finish().unwrap().len() as f64;
    assert!(ours <= single * 1.01, "ours {ours} vs one stream {single}");
}
