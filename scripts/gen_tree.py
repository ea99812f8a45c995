#!/usr/bin/env python3
"""Generate the benchmark trees deterministically (same bytes on every machine).

  gen_tree.py mixed DIR SIZE_MB [BIG_MB]   text and binary files of many sizes in nested
                                            directories, about 70% of its size after gzip -6;
                                            BIG_MB adds one incompressible file of that size
  gen_tree.py small DIR COUNT               COUNT small files (100 B - 4 KiB) in deep directories
"""
import os
import random
import sys

WORDS = (
    "the image layer tar gzip digest manifest config index platform build context file "
    "directory symlink mode owner reproducible stream compress sha256 blob layout archive "
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
).split()


def text_bytes(rng, n):
    out = []
    size = 0
    while size < n:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def mixed_content(rng, n):
    # Interleave incompressible and text chunks: about 70% of the size after gzip -6.
    parts = []
    left = n
    while left > 0:
        k = min(left, rng.randint(4096, 65536))
        if rng.random() < 0.66:
            parts.append(rng.randbytes(k))
        else:
            parts.append(text_bytes(rng, k))
        left -= k
    return b"".join(parts)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def mixed(root, size_mb, big_mb=0):
    rng = random.Random(20261124)
    total = size_mb << 20
    done = 0
    i = 0
    while done < total:
        # Sizes spread from tiny to a few MiB, like an application tree.
        r = rng.random()
        if r < 0.5:
            n = rng.randint(100, 8 << 10)
        elif r < 0.9:
            n = rng.randint(8 << 10, 256 << 10)
        else:
            n = rng.randint(256 << 10, 8 << 20)
        n = min(n, total - done)
        d = f"d{i % 17}/s{i % 5}/t{i % 3}"
        write(os.path.join(root, d, f"f{i:06}.dat"), mixed_content(rng, n))
        done += n
        i += 1
    if big_mb:
        path = os.path.join(root, "big", "blob.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            for _ in range(big_mb):
                f.write(rng.randbytes(1 << 20))


def small(root, count):
    rng = random.Random(60000)
    for i in range(count):
        depth = 1 + i % 6
        parts = [f"p{(i >> (2 * k)) % 7}" for k in range(depth)]
        n = rng.randint(100, 4096)
        write(os.path.join(root, *parts, f"f{i:06}.txt"), text_bytes(rng, n))


if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    if kind == "mixed":
        mixed(root, int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif kind == "small":
        small(root, int(sys.argv[3]))
    else:
        sys.exit(f"unknown tree kind {kind}")
