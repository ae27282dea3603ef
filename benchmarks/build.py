"""pybuild build against BuildKit (docker build), side by side in one run.

    python benchmarks/build.py [--repeat 3] [--skip-context]

Needs root, runc, the anchor engine (`../shared/anchors/dockerd.sh`, started
here if it is not running) and the Debian base tarball
(`fixtures/base-images/debian.sh`, cached in /var/cache/pybuild-tests).
Both builders get the same base image (`docker import` / `pybuild import` of
the same tarball) and the same contexts. Cases:

- sshd cold: fixtures/sshd with nothing cached (BuildKit: after
  `docker builder prune -af`; pybuild: a fresh store holding only the base);
- sshd cached: the same build again, every step reused;
- parallel: four independent stages of `RUN sleep 1`, copied into a final
  stage (cold; about 1 s when the stages run at once);
- context cold / cached / one file changed: 20,000 small files plus 300 MB
  in large files, `COPY . /app`.

Prints seconds (median of --repeat) and the ratio pybuild/BuildKit (below 1:
pybuild is faster), and pybuild's peak memory (max RSS of the pybuild
process; runc and the build's own processes are not counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANCHORS = REPO.parent / "shared" / "anchors"
DOCKER = ["/usr/bin/docker"]
DOCKER_ENV = {
    **os.environ,
    "DOCKER_HOST": "unix:///tmp/pybuild-anchor/docker.sock",
    "DOCKER_BUILDKIT": "1",
}
DEBIAN_TAR = Path("/var/cache/pybuild-tests/debian-bookworm.tar")


def sh(*args: str, env: dict[str, str] | None = None, quiet: bool = True) -> None:
    subprocess.run(
        args, check=True, env=env,
        stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.DEVNULL if quiet else None,
    )  # fmt: skip


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak RSS (KB) of one command."""
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *args], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return elapsed, int(proc.stderr.strip().splitlines()[-1])


class Pybuild:
    def __init__(self, root: Path):
        self.root = root
        self.env = {
            **os.environ,
            "PYBUILD_ROOT": str(root),
            "PYTHONPYCACHEPREFIX": str(root.parent / "pycache"),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.peak_kb = 0

    def fresh(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        sh(sys.executable, "-m", "builder.cli.main", "import", str(DEBIAN_TAR),
           "debian:bookworm-slim", env=self.env)  # fmt: skip
        busybox = self.root.parent / "busybox.tar"
        if not busybox.exists():
            sh("sh", str(REPO / "fixtures/base-images/busybox.sh"), str(busybox))
        sh(sys.executable, "-m", "builder.cli.main", "import", str(busybox), "busybox:latest",
           env=self.env)  # fmt: skip

    def build(self, context: Path, tag: str) -> float:
        seconds, peak = timed(
            [sys.executable, "-m", "builder.cli.main", "build", "-q", "-t", tag, str(context)],
            self.env,
        )
        self.peak_kb = max(self.peak_kb, peak)
        return seconds


class BuildKit:
    def __init__(self) -> None:
        sh("sh", str(ANCHORS / "dockerd.sh"))
        self.env = DOCKER_ENV

    def fresh(self) -> None:
        sh(*DOCKER, "builder", "prune", "-af", env=self.env)
        sh(*DOCKER, "import", str(DEBIAN_TAR), "debian:bookworm-slim", env=self.env)
        busybox = Path("/var/cache/pybuild-anchor/busybox.tar")
        if not busybox.exists():
            sh("sh", str(ANCHORS / "base-images.sh"))
        sh(*DOCKER, "import", str(busybox), "busybox:latest", env=self.env)

    def build(self, context: Path, tag: str) -> float:
        seconds, _ = timed(
            [*DOCKER, "build", "-q", "--network", "host", "-t", tag, str(context)], self.env
        )
        return seconds


def parallel_context(root: Path) -> Path:
    context = root / "parallel"
    context.mkdir(parents=True, exist_ok=True)
    stages = "".join(f"FROM busybox AS s{i}\nRUN sleep 1 && echo {i} > /out{i}\n" for i in range(4))
    final = "FROM busybox\n" + "".join(f"COPY --from=s{i} /out{i} /\n" for i in range(4))
    (context / "Dockerfile").write_text(stages + final)
    return context


def big_context(root: Path) -> Path:
    context = root / "bigctx"
    if (context / "Dockerfile").exists():
        return context
    for i in range(20_000):
        directory = context / "src" / f"d{i // 500}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{i}.txt").write_text(f"file {i}\n" * 4)
    blobs = context / "data"
    blobs.mkdir(parents=True)
    for i in range(6):
        (blobs / f"blob{i}.bin").write_bytes(os.urandom(50 * 1024 * 1024))
    (context / "Dockerfile").write_text("FROM busybox\nCOPY . /app\n")
    return context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-context", action="store_true")
    args = parser.parse_args()
    if not DEBIAN_TAR.is_file():
        DEBIAN_TAR.parent.mkdir(parents=True, exist_ok=True)
        sh("sh", str(REPO / "fixtures/base-images/debian.sh"), str(DEBIAN_TAR), quiet=False)

    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-build-"))
    ours, theirs = Pybuild(work / "store"), BuildKit()
    sshd = REPO / "fixtures" / "sshd"
    results: list[tuple[str, list[float], list[float]]] = []

    def case(name: str, run_ours, run_theirs) -> None:  # type: ignore[no-untyped-def]
        mine, other = [], []
        for _ in range(args.repeat):
            mine.append(run_ours())
            other.append(run_theirs())
        results.append((name, mine, other))
        print(f"{name:26} {statistics.median(mine):7.2f}s {statistics.median(other):7.2f}s",
              flush=True)  # fmt: skip

    def cold(builder, context: Path, tag: str):  # type: ignore[no-untyped-def]
        def run() -> float:
            builder.fresh()
            return builder.build(context, tag)

        return run

    case("sshd cold", cold(ours, sshd, "sshd"), cold(theirs, sshd, "sshd"))
    case("sshd cached", lambda: ours.build(sshd, "sshd"), lambda: theirs.build(sshd, "sshd"))
    par = parallel_context(work)
    case("4 parallel stages, cold", cold(ours, par, "par"), cold(theirs, par, "par"))
    if not args.skip_context:
        big = big_context(work)
        case("context 20k+300MB cold", cold(ours, big, "big"), cold(theirs, big, "big"))
        case("context cached", lambda: ours.build(big, "big"), lambda: theirs.build(big, "big"))
        counter = [0]

        def change_one() -> None:
            counter[0] += 1
            (big / "src" / "d0" / "f0.txt").write_text(f"changed {counter[0]}\n")

        def ours_changed() -> float:
            change_one()
            return ours.build(big, "big")

        def theirs_changed() -> float:
            change_one()
            return theirs.build(big, "big")

        case("context one file changed", ours_changed, theirs_changed)

    print(f"\n{'case':26} {'pybuild':>8} {'BuildKit':>8} {'ratio':>6}   (median of {args.repeat})")
    for name, mine, other in results:
        a, b = statistics.median(mine), statistics.median(other)
        print(f"{name:26} {a:7.2f}s {b:7.2f}s {a / b:6.2f}")
    print(f"pybuild peak memory: {ours.peak_kb / 1024:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
