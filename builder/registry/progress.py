"""Progress events of a pull or push, one per blob state change or byte count.

The CLI renders them (with rich); the library only reports. A callback
may be called from worker threads, and must be quick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal[
    "waiting",  #: queued
    "downloading",  #: bytes arriving (done/total)
    "uploading",  #: bytes leaving (done/total)
    "verifying",  #: all bytes in, digest being checked / blob being committed
    "done",  #: downloaded or uploaded and verified
    "exists",  #: already where it is going (local store or target repository)
    "mounted",  #: linked from another repository of the same registry
]

Kind = Literal["index", "manifest", "config", "layer"]


@dataclass(frozen=True)
class ProgressEvent:
    digest: str
    kind: Kind
    state: State
    done: int = 0  #: bytes so far
    total: int = 0  #: bytes in all (the descriptor's size)


Progress = Callable[[ProgressEvent], None]


def no_progress(event: ProgressEvent) -> None:
    """The default callback: report nothing."""
