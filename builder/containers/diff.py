"""`pybuild diff`: a container's changes, read from its overlay upper dir, as `docker diff`.

A whiteout (0:0 character device) is `D`; an entry that a lower layer has is
`C` (directories copied up because something below them changed included,
as docker prints them); anything else is `A`. Paths are sorted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from builder.snapshot.trees import walk
from builder.snapshot.whiteouts import is_overlay_whiteout

Kind = Literal["A", "C", "D"]


@dataclass(frozen=True, order=True)
class Change:
    path: str
    kind: Kind

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _in_lowers(lowers: list[Path], rel: str) -> bool:
    """Whether the image (lowers base first) has `rel`: the top-most lower that says wins."""
    parts = rel.split("/")
    for lower in reversed(lowers):
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            try:
                st = os.lstat(lower / prefix)
            except OSError:
                break
            if is_overlay_whiteout(st):
                return False
            if depth == len(parts):
                return True
            if not stat.S_ISDIR(st.st_mode):
                break
    return False


def changes(upper: Path, lowers: list[Path]) -> list[Change]:
    """The A/C/D changes of an upper dir over the image's lower dirs."""
    found: list[Change] = []

    def visit(_fd: int, _name: str, rel: str, st: os.stat_result) -> bool:
        path = "/" + rel
        if is_overlay_whiteout(st):
            found.append(Change(path, "D"))
            return False
        found.append(Change(path, "C" if _in_lowers(lowers, rel) else "A"))
        return stat.S_ISDIR(st.st_mode)

    if upper.is_dir():
        walk(upper, visit)
    return sorted(found)
