"""Parse a directory of Dockerfiles with pybuild and with BuildKit's Go parser.

    python3 benchmarks/parse.py [DIR ...] [--rounds N]

With no DIR it uses the corpus `tests/install-deps.sh` unpacks, the
conformance files and our fixtures. BuildKit's parser is the `dockerfile`
package (Go, through cgo; `pip install dockerfile`). Both parse the same
texts in the same process, several rounds, best round counted; the report
gives files, instructions, time per file and the ratio pybuild/BuildKit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from builder.dockerfile.parser import parse  # noqa: E402
from builder.errors import ParseError  # noqa: E402


def default_dirs() -> list[Path]:
    corpus = Path(os.environ.get("PYBUILD_TEST_CORPUS", "/var/cache/pybuild-tests/corpus"))
    return [corpus, REPO.parent / "shared" / "conformance", REPO / "fixtures"]


def collect(dirs: list[Path]) -> list[str]:
    texts = []
    for d in dirs:
        for p in sorted(d.rglob("*")):
            name = p.name.lower()
            if p.is_file() and ("dockerfile" in name or "containerfile" in name) and p.suffix not in {
                ".go", ".md", ".tar", ".txt", ".sh"
            }:
                texts.append(p.read_bytes().decode("utf-8", "surrogateescape"))
    return texts


def best_of(rounds: int, fn) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    texts = collect(args.dirs or default_dirs())
    if not texts:
        sys.exit("no Dockerfiles found")

    def ours() -> int:
        n = 0
        for t in texts:
            try:
                n += len(parse(t))
            except ParseError:
                pass
        return n

    parse("FROM warm-up\n")  # load the cached grammar tables once
    instructions = ours()
    t_ours = best_of(args.rounds, ours)
    print(f"files: {len(texts)}, instructions: {instructions}, rounds: {args.rounds}")
    print(f"pybuild   {t_ours * 1e3:8.1f} ms  ({t_ours / len(texts) * 1e6:7.1f} µs/file)")
    try:
        import dockerfile as buildkit
    except ImportError:
        print("BuildKit's parser: not installed (pip install dockerfile)")
        return

    def theirs() -> None:
        for t in texts:
            try:
                buildkit.parse_string(t)
            except Exception:
                pass

    t_bk = best_of(args.rounds, theirs)
    print(f"buildkit  {t_bk * 1e3:8.1f} ms  ({t_bk / len(texts) * 1e6:7.1f} µs/file)")
    print(f"ratio pybuild/buildkit: {t_ours / t_bk:.2f}")


if __name__ == "__main__":
    main()
