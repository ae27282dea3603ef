"""Time layer writing and applying against the usual command-line pipelines.

    python benchmarks/layers.py [--mb MB] [--source DIR] [--dir DIR]

Builds a tree of MB megabytes (default 200: 20,000 small text files, the rest
in half-compressible binaries), or copies `--source` (e.g. /usr/lib), then times:

- write_layer with gzip (ISA-L, threaded), zstd and none, into a file;
- `tar -c | gzip` (gzip -6) and `tar -c | zstd -3 -T0`, the usual pipelines;
- apply_layer of the gzip layer into an empty directory, and `tar -xzf` of it;

and prints each time, output size and speed relative to `tar -c | gzip`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builder.snapshot.apply import apply_layer
from builder.snapshot.layer import write_layer


def make_tree(root: Path, megabytes: int) -> None:
    rng = random.Random(42)
    words = [rng.randbytes(rng.randint(2, 10)).hex().encode() for _ in range(3000)]
    small_total = 0
    for i in range(20_000):
        sub = root / f"pkg{i // 200:03}"
        if i % 200 == 0:
            sub.mkdir(parents=True)
        data = b" ".join(rng.choices(words, k=rng.randint(10, 400))) + b"\n"
        (sub / f"file{i:05}.txt").write_bytes(data)
        small_total += len(data)
    remaining = max(0, megabytes * 1024 * 1024 - small_total)
    bins = root / "bin"
    bins.mkdir()
    noise = os.urandom(1 << 20)
    text = b" ".join(rng.choices(words, k=300_000))[: 1 << 20]
    for n in range(8):
        size = remaining // 8
        with open(bins / f"prog{n}", "wb") as f:
            i = 0
            while size > 0:
                block = (noise if i % 2 else text)[: min(size, 1 << 20)]
                f.write(block)
                size -= len(block)
                i += 1


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def pipeline(tree: Path, compressor: list[str], out: Path) -> None:
    with open(out, "wb") as sink:
        tar = subprocess.Popen(["tar", "-C", str(tree), "-cf", "-", "."], stdout=subprocess.PIPE)
        subprocess.run(compressor, stdin=tar.stdout, stdout=sink, check=True)
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise SystemExit("tar failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--source", type=Path, help="copy this tree instead of generating one")
    parser.add_argument("--dir", type=Path, help="work here (default: a temporary directory)")
    args = parser.parse_args()
    for tool in ("tar", "gzip", "zstd"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")

    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="pybuild-bench-layers-"))
    try:
        tree = work / "tree"
        if args.source:
            shutil.copytree(args.source, tree, symlinks=True)
        else:
            make_tree(tree, args.mb)
        subprocess.run(["sync"], check=True)
        size = sum(
            os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(tree) for f in files
        )
        print(f"tree: {size / 1e6:.0f} MB in {work}")

        rows: list[tuple[str, float, int]] = []
        for compression in ("gzip", "zstd", "none"):
            out_path = work / f"layer.{compression}"
            with open(out_path, "wb") as out:
                seconds = timed(
                    lambda out=out, c=compression: write_layer(tree, out, compression=c)
                )
            rows.append((f"write_layer {compression}", seconds, out_path.stat().st_size))
        for label, command in (
            ("tar -c | gzip", ["gzip", "-c"]),
            ("tar -c | zstd -T0", ["zstd", "-3", "-T0", "-c", "-q"]),
        ):
            out_path = work / label.replace(" ", "_").replace("|", "")
            seconds = timed(lambda c=command, o=out_path: pipeline(tree, c, o))
            rows.append((label, seconds, out_path.stat().st_size))
        gzip_size = (work / "layer.gzip").stat().st_size
        dest = work / "applied"
        dest.mkdir()
        subprocess.run(["sync"], check=True)
        with open(work / "layer.gzip", "rb") as stream:
            seconds = timed(lambda: apply_layer(stream, dest))
        rows.append(("apply_layer gzip", seconds, gzip_size))
        untarred = work / "untarred"
        untarred.mkdir()
        subprocess.run(["sync"], check=True)
        command = ["tar", "-xzf", str(work / "layer.gzip"), "-C", str(untarred)]
        seconds = timed(lambda: subprocess.run(command, check=True))
        rows.append(("tar -xzf (same layer)", seconds, gzip_size))

        baseline = next(s for label, s, _ in rows if label == "tar -c | gzip")
        print(
            f"{'':22} {'seconds':>8} {'MB/s':>7} {'output MB':>10} {'ratio':>6} {'vs tar|gzip':>12}"
        )
        for label, seconds, out_size in rows:
            print(
                f"{label:22} {seconds:8.2f} {size / seconds / 1e6:7.0f} {out_size / 1e6:10.1f}"
                f" {out_size / size:6.3f} {baseline / seconds:11.1f}x"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
