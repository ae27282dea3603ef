"""What a build reports while it runs, and the plain renderer CI logs keep.

The executor emits events; a renderer shows them. `PlainProgress` writes
BuildKit's `--progress=plain` format: `#N name`, `#N 0.123 output line`,
`#N DONE 0.4s`, `#N CACHED`, `#N ERROR: ...`. Renderers are called from
the executor's thread only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class StepStarted:
    vertex: int
    name: str


@dataclass(frozen=True)
class StepOutput:
    vertex: int
    data: bytes


@dataclass(frozen=True)
class StepLog:
    """A line about a step that is not the process's output (`resolve ...`)."""

    vertex: int
    text: str


@dataclass(frozen=True)
class StepDone:
    vertex: int
    seconds: float
    cached: bool = False


@dataclass(frozen=True)
class StepFailed:
    vertex: int
    message: str


Event = StepStarted | StepOutput | StepLog | StepDone | StepFailed
Reporter = Callable[[Event], None]


def no_progress(event: Event) -> None:
    """Report nothing (`--progress quiet`, library use)."""


@dataclass
class PlainProgress:
    """BuildKit's plain progress: one line per event, output lines timestamped."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: dict[int, float] = field(default_factory=dict)
    partial: dict[int, bytes] = field(default_factory=dict)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.started[event.vertex] = time.monotonic()
            self._write(f"#{event.vertex} {event.name}")
        elif isinstance(event, StepOutput):
            self._output(event)
        elif isinstance(event, StepLog):
            self._write(f"#{event.vertex} {event.text}")
        elif isinstance(event, StepDone):
            self._flush(event.vertex)
            if event.cached:
                self._write(f"#{event.vertex} CACHED\n")
            else:
                self._write(f"#{event.vertex} DONE {event.seconds:.1f}s\n")
        elif isinstance(event, StepFailed):
            self._flush(event.vertex)
            self._write(f"#{event.vertex} ERROR: {event.message}\n")

    def _output(self, event: StepOutput) -> None:
        data = self.partial.pop(event.vertex, b"") + event.data
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._line(event.vertex, line)
        if rest:
            self.partial[event.vertex] = rest

    def _flush(self, vertex: int) -> None:
        rest = self.partial.pop(vertex, b"")
        if rest:
            self._line(vertex, rest)

    def _line(self, vertex: int, line: bytes) -> None:
        elapsed = time.monotonic() - self.started.get(vertex, time.monotonic())
        text = line.decode("utf-8", "replace").rstrip("\r")
        self._write(f"#{vertex} {elapsed:.3f} {text}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()
