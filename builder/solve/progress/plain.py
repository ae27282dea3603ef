"""`--progress=plain`: BuildKit's plain format, for CI logs.

`#N name`, `#N 0.123 output line`, `#N DONE 0.4s`, `#N CACHED`, `#N ERROR: ...`,
`#N CANCELED` (the step was running when the build stopped).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from builder.solve.progress.base import ProgressRenderer
from builder.solve.progress.events import (
    Event,
    StepCanceled,
    StepDone,
    StepFailed,
    StepLog,
    StepOutput,
    StepStarted,
    labelled,
)

_MAX_PARTIAL = 64 * 1024  #: an unterminated output line longer than this is shown in pieces


def _utf8_cut(data: bytes, limit: int) -> int:
    """An index near `limit` that does not split a UTF-8 character."""
    cut = limit
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 and (data[cut] & 0xC0) != 0x80 else limit


@dataclass
class PlainProgress(ProgressRenderer):
    """BuildKit's plain progress: one line per event, output lines timestamped.

    Output is cut into lines per step, so steps running at once still give
    whole lines, each with its own `#N`.
    """

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: dict[int, float] = field(default_factory=dict)
    partial: dict[int, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __call__(self, event: Event) -> None:
        with self.lock:
            self._handle(event)

    def close(self) -> None:
        """Write what is left of unterminated output lines."""
        with self.lock:
            for vertex in list(self.partial):
                self._flush(vertex)

    def _handle(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.started[event.vertex] = time.monotonic()
            self._write(f"#{event.vertex} {labelled(event.name, event.target)}")
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
        elif isinstance(event, StepCanceled):
            self._flush(event.vertex)
            self._write(f"#{event.vertex} CANCELED\n")

    def _output(self, event: StepOutput) -> None:
        data = self.partial.pop(event.vertex, b"") + event.data
        *lines, rest = data.split(b"\n")
        for line in lines:
            self._line(event.vertex, line)
        while len(rest) > _MAX_PARTIAL:  # a process that never ends its line
            cut = _utf8_cut(rest, _MAX_PARTIAL)
            self._line(event.vertex, rest[:cut])
            rest = rest[cut:]
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
        self.stream.write(text + "\n")  # one write per line: whole lines under the lock
        self.stream.flush()
