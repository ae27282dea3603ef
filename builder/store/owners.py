"""Which process made a leftover: its pid and start time, written into the names it creates.

Temp dirs (`tmp-<kind>-<pid>-<start>-<random>`), container ids and
memory-backed files (`pybuild-<kind>-<pid>-<start>-<random>`) end with the
owner's tag. The start time (field 22 of /proc/PID/stat, clock ticks since
boot) tells a reused pid from the process that made the name.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

_TAGGED = re.compile(r"-(\d+)-(\d+)-[0-9a-f]+$")
_current: tuple[int, Owner] | None = None


@dataclass(frozen=True)
class Owner:
    pid: int
    start: int  #: clock ticks after boot when the process started

    @property
    def tag(self) -> str:
        return f"{self.pid}-{self.start}"


def process_start(pid: int) -> int | None:
    """The start time of process `pid`, or None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = text[text.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def current_owner() -> Owner:
    """This process (computed once per pid, so a forked child gets its own)."""
    global _current
    pid = os.getpid()
    if _current is None or _current[0] != pid:
        _current = (pid, Owner(pid, process_start(pid) or 0))
    return _current[1]


def owned_name(prefix: str) -> str:
    """`<prefix>-<pid>-<start>-<random>`: a unique name that says who made it."""
    return f"{prefix}-{current_owner().tag}-{secrets.token_hex(8)}"


def owner_of(name: str) -> Owner | None:
    """The owner written in `name`, or None for a name without one (older pybuild)."""
    match = _TAGGED.search(name)
    return Owner(int(match[1]), int(match[2])) if match else None


def is_alive(owner: Owner) -> bool:
    """Whether the process that made the name still runs (same pid, same start time)."""
    return process_start(owner.pid) == owner.start
