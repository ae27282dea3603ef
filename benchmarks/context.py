"""Time the build-context walk and hash: cold, warm (stat cache), one file touched.

    python benchmarks/context.py [--files N] [--total-mb MB] [--small-only] [--dir DIR]

Makes a context of N small files (default 20,000, in 100 directories) plus a
few large files bringing the total to MB megabytes (default 300), then times
`walk_context` + `content_digest`:

- cold: empty stat cache, every file read and hashed;
- warm: a fresh `StatCache` loaded from disk (a later build), nothing read;
- touched: one small file rewritten, only it is read again.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.context.hashing import content_digest
from builder.context.statcache import StatCache
from builder.context.walk import walk_context


def make_context(root: Path, files: int, total_mb: int, small_only: bool) -> int:
    per_dir = 200
    small_bytes = 0
    for i in range(files):
        sub = root / f"d{i // per_dir:04}"
        if i % per_dir == 0:
            sub.mkdir(parents=True)
        data = f"file {i}\n".encode() * (1 + i % 64)
        (sub / f"f{i:05}.txt").write_bytes(data)
        small_bytes += len(data)
    if not small_only:
        remaining = max(0, total_mb * 1024 * 1024 - small_bytes)
        big = root / "big"
        big.mkdir()
        chunk = os.urandom(1 << 20)
        for n in range(4):
            size = remaining // 4
            with open(big / f"blob{n}.bin", "wb") as f:
                while size > 0:
                    f.write(chunk[: min(size, len(chunk))])
                    size -= len(chunk)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def timed(root: Path, cache_dir: Path) -> tuple[float, float, float, int, str]:
    start = time.perf_counter()
    entries = walk_context(root)
    walked = time.perf_counter()
    cache = StatCache.for_context(cache_dir, root)
    digest = content_digest(root, entries, cache)
    cache.save()
    end = time.perf_counter()
    return walked - start, end - walked, end - start, cache.misses, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--total-mb", type=int, default=300)
    parser.add_argument("--small-only", action="store_true")
    parser.add_argument("--dir", type=Path, help="where to build the context (default: a tmp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "ctx"
        cache_dir = Path(tmp) / "cache"
        t0 = time.perf_counter()
        total = make_context(root, args.files, args.total_mb, args.small_only)
        print(
            f"context: {args.files} small files, {total / 1e6:.1f} MB in all "
            f"(made in {time.perf_counter() - t0:.1f}s)"
        )
        time.sleep(0.2)  # let every file leave the stat cache's racy window
        rows = []
        rows.append(("cold", *timed(root, cache_dir)))
        rows.append(("warm", *timed(root, cache_dir)))
        target = root / "d0000" / "f00000.txt"
        target.write_bytes(target.read_bytes())
        rows.append(("touched 1 file", *timed(root, cache_dir)))
        print(f"{'run':<16}{'walk':>9}{'hash':>9}{'total':>9}{'files read':>12}")
        for name, walk_s, hash_s, total_s, misses, _ in rows:
            print(f"{name:<16}{walk_s:>8.3f}s{hash_s:>8.3f}s{total_s:>8.3f}s{misses:>12}")
        digests = {row[-1] for row in rows}
        print("digests identical:", len(digests) == 1)


if __name__ == "__main__":
    main()
