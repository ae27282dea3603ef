"""Finding the user-mode network stacks (slirp4netns) that pybuild started, from /proc."""

from __future__ import annotations

import time
from pathlib import Path

STACK = "slirp4netns"


def stack_processes(tag: str) -> list[int]:
    """Pids of running slirp4netns processes whose command line contains `tag`.

    pybuild's stacks name their namespace file in the run's private directory
    (`/dev/shm/pybuild-run-<pid>-<start>-*/netns`), so `pybuild-run-<pid>-`
    finds those of one pybuild process, and a directory path those of one run.
    """
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":  # exited, not yet reaped: it serves nothing
            continue
        name = Path(argv[0].decode(errors="replace")).name if argv else ""
        if name == STACK and tag in b" ".join(argv).decode(errors="replace"):
            found.append(int(entry.name))
    return found


def wait_for_no_stacks(tag: str, timeout: float = 2.0) -> list[int]:
    """The stacks of `tag` still running after up to `timeout` seconds (exits take a moment)."""
    deadline = time.monotonic() + timeout
    while (left := stack_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def netns_mounts(tag: str) -> list[str]:
    """Mount points from /proc/self/mountinfo whose path contains `tag`."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and tag in fields[4]:
            points.append(fields[4])
    return points
