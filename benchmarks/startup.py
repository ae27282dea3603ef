"""Instructions executed by pybuild's start-up cases: a measure a loaded machine does not skew.

    python benchmarks/startup.py [--baseline DIR]

Wall time on a shared machine varies by 2x and more; the number of
instructions a command executes (valgrind's callgrind) does not. Each case
runs once under callgrind, with this tree first on the path (and, with
`--baseline`, another checkout of pybuild, e.g. the main branch, for a
before/after). Cases: Python's floor, `pybuild --help`, a fully cached build
of fixtures/sshd (the fast path, and the full build through `--jobs 0`),
`pybuild lint` on one file, and hadolint on the same file.

Needs root, runc, valgrind and the Debian base tarball (as benchmarks/build.py).
As a rule of thumb this machine runs about 3 billion instructions a second
when it is quiet (`python -c pass`: 38 M instructions, 13 ms).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN_TAR = Path("/var/cache/pybuild-tests/debian-bookworm.tar")
ENTRY = "import sys\nfrom builder.cli.entry import main\nsys.argv[0] = 'pybuild'\nmain()\n"
#: a tree without builder/cli/entry.py (before the fast path) runs the CLI module itself
LEGACY = "import sys\nfrom builder.cli.main import main\nsys.argv[0] = 'pybuild'\nmain()\n"


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions callgrind counts for one run of `argv` (its children not followed)."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if found is None:
        raise SystemExit(f"callgrind failed on {argv}:\n{proc.stderr[-2000:]}")
    return int(found.group(1))


def cases(tree: Path, work: Path, hadolint: str | None) -> dict[str, int]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYBUILD_ROOT": str(work / "store")}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    code = ENTRY if (tree / "builder" / "cli" / "entry.py").is_file() else LEGACY
    pybuild = [sys.executable, "-c", code]
    sshd = REPO / "fixtures" / "sshd"
    dockerfile = str(sshd / "Dockerfile")
    subprocess.run([*pybuild, "import", str(DEBIAN_TAR), "debian:bookworm-slim"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    build = [*pybuild, "build", "-q", "-t", "sshd", str(sshd)]
    for _ in range(2):  # cold, then cached: the record of the fast path is written
        subprocess.run(build, env=env, check=True, capture_output=True)
        time.sleep(0.2)
    subprocess.run([*pybuild, "lint", "--no-fail", dockerfile], env=env, capture_output=True)
    out = {
        "python -S -c pass": instructions([sys.executable, "-S", "-c", "pass"], env),
        "python -c pass": instructions([sys.executable, "-c", "pass"], env),
        "pybuild --help": instructions([*pybuild, "--help"], env),
        "sshd cached": instructions(build, env),
        "sshd cached, full build": instructions([*build[:-1], "--jobs", "0", build[-1]], env),
        "lint one file": instructions([*pybuild, "lint", "--no-fail", dockerfile], env),
    }
    if hadolint is not None:
        out["hadolint one file"] = instructions([hadolint, "--no-fail", dockerfile], env)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another pybuild checkout to compare")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.is_file() else shutil.which("hadolint")
    trees = [REPO] + ([args.baseline.resolve()] if args.baseline else [])
    results = []
    for tree in trees:
        with tempfile.TemporaryDirectory(prefix="pybuild-bench-startup-") as tmp:
            results.append(cases(tree, Path(tmp), hadolint))
    header = f"{'case':28}{'this tree':>14}" + (f"{'baseline':>14}" if args.baseline else "")
    print(header + "   (millions of instructions)")
    for name in results[0]:
        row = f"{name:28}{results[0][name] / 1e6:14.0f}"
        if args.baseline:
            row += f"{results[1][name] / 1e6:14.0f}"
        print(row)


if __name__ == "__main__":
    main()
