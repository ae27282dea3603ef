"""Time a RUN step native (amd64) against the same step emulated (arm64, qemu-user-static).

    python benchmarks/emulation.py [--repeat N] [--loops N]

Makes the busybox base for both platforms (fixtures/base-images/busybox.sh and
busybox-arm64.sh), imports them under one name into a temporary store, then
builds, with --no-cache, one platform at a time:

- `RUN true`: the fixed cost of a step (runc, overlay, commit) plus starting
  one emulated process;
- `RUN` of a shell loop counting to N (default 200,000) in busybox sh: CPU
  work, where the emulator's translation cost shows;

and prints the median time of the RUN step (from the plain progress output,
so process start-up is left out), per platform, and the ratio.
Needs root, runc, and QEMU registered with binfmt_misc (tests/install-deps.sh).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYBUILD = [sys.executable, "-c", "from builder.cli.main import main; main()"]


def pybuild(root: Path, *args: str) -> str:
    env = {**os.environ, "PYBUILD_ROOT": str(root), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([*PYBUILD, *args], env=env, check=True, capture_output=True, text=True)
    return proc.stderr


def timed_step(root: Path, context: Path, platform: str) -> float:
    """The RUN step's own time, as the plain progress reports it (`#2 DONE 0.4s`)."""
    log = pybuild(
        root, "build", "--no-cache", "--platform", platform, "--progress", "plain", str(context)
    )
    found = re.search(r"^#2 DONE ([0-9.]+)s$", log, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no time for the RUN step in:\n{log}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loops", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pybuild-emulation-") as tmp:
        work = Path(tmp)
        root = work / "store"
        for script, platform in (
            ("busybox.sh", "linux/amd64"),
            ("busybox-arm64.sh", "linux/arm64"),
        ):
            tar = work / f"{platform.replace('/', '_')}.tar"
            subprocess.run(
                ["sh", str(REPO / "fixtures/base-images" / script), str(tar)], check=True
            )
            pybuild(root, "import", "--platform", platform, str(tar), "busybox:bench")
        cases = {
            "RUN true": "RUN true",
            f"RUN a shell loop to {args.loops:,}": (
                f"RUN i=0; while [ $i -lt {args.loops} ]; do i=$((i+1)); done"
            ),
        }
        print("| step | native amd64 | emulated arm64 | ratio |")
        print("| --- | --- | --- | --- |")
        for label, line in cases.items():
            context = work / f"ctx-{abs(hash(label))}"
            context.mkdir()
            (context / "Dockerfile").write_text(f"FROM busybox:bench\n{line}\n")
            base = {}
            for platform in ("linux/amd64", "linux/arm64"):
                timed_step(root, context, platform)  # warm: snapshots, page cache
                base[platform] = statistics.median(
                    timed_step(root, context, platform) for _ in range(args.repeat)
                )
            native, emulated = base["linux/amd64"], base["linux/arm64"]
            print(f"| {label} | {native:.2f} s | {emulated:.2f} s | {emulated / native:.2f} |")


if __name__ == "__main__":
    main()
