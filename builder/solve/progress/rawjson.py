"""`--progress=rawjson`: one JSON object per line, per event.

The schema (stable; keys in this order, `time` is RFC 3339 UTC with
microseconds, e.g. "2024-05-01T12:00:00.123456Z"):

    {"type": "build_started", "time": T, "total_steps": int}
    {"type": "step_started", "vertex": N, "time": T, "name": str}
    {"type": "step_output", "vertex": N, "time": T, "data": str}
    {"type": "step_log", "vertex": N, "time": T, "data": str}
    {"type": "step_done", "vertex": N, "time": T, "seconds": float, "cached": bool}
    {"type": "step_failed", "vertex": N, "time": T, "seconds": float, "message": str}
    {"type": "step_canceled", "vertex": N, "time": T, "seconds": float}

`step_canceled` ends a step that was running when the build stopped (it was
cancelled, or another stage failed).

Under `pybuild bake`, every step object also holds `"target": NAME` after
`vertex` (the bake target the step belongs to); a single build has none.

`data` of `step_output` is the process's output decoded as UTF-8 (invalid
bytes become U+FFFD); a character split across two chunks arrives whole in
the later object, so concatenating a vertex's `data` gives its output. A
chunk that only holds the start of a character emits no object.
"""

from __future__ import annotations

import codecs
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from builder.solve.progress.base import ProgressRenderer
from builder.solve.progress.events import (
    BuildStarted,
    Event,
    StepCanceled,
    StepDone,
    StepFailed,
    StepLog,
    StepOutput,
    StepStarted,
)


def rfc3339(when: datetime) -> str:
    """`when` in UTC as RFC 3339 with microseconds: 2024-05-01T12:00:00.123456Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RawJsonProgress(ProgressRenderer):
    """One JSON object per line and event, in the schema of the module docstring."""

    def __init__(
        self, stream: TextIO | None = None, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}
        self._decoders: dict[int, codecs.IncrementalDecoder] = {}

    def __call__(self, event: Event) -> None:
        with self._lock:
            now = rfc3339(self._clock())
            for record in self._records(event, now):
                self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.stream.flush()

    def close(self) -> None:
        with self._lock:
            self.stream.flush()

    def _records(self, event: Event, now: str) -> Iterator[dict[str, Any]]:
        if isinstance(event, BuildStarted):
            yield {"type": "build_started", "time": now, "total_steps": event.total_steps}
            return
        head: dict[str, Any] = {"vertex": event.vertex, "time": now}
        if event.target is not None:
            head = {"vertex": event.vertex, "target": event.target, "time": now}
        if isinstance(event, StepStarted):
            self._started[event.vertex] = time.monotonic()
            self._decoders.pop(event.vertex, None)
            yield {"type": "step_started", **head, "name": event.name}
        elif isinstance(event, StepOutput):
            text = self._decoder(event.vertex).decode(event.data)
            if text:
                yield {"type": "step_output", **head, "data": text}
        elif isinstance(event, StepLog):
            yield {"type": "step_log", **head, "data": event.text}
        elif isinstance(event, StepDone):
            yield from self._rest(event.vertex, head)
            seconds = float(event.seconds)
            yield {"type": "step_done", **head, "seconds": seconds, "cached": event.cached}
        elif isinstance(event, StepFailed):
            yield from self._rest(event.vertex, head)
            if event.seconds is not None:
                seconds = float(event.seconds)
            else:
                seconds = time.monotonic() - self._started.get(event.vertex, time.monotonic())
            yield {"type": "step_failed", **head, "seconds": seconds, "message": event.message}
        elif isinstance(event, StepCanceled):
            yield from self._rest(event.vertex, head)
            yield {"type": "step_canceled", **head, "seconds": float(event.seconds)}

    def _decoder(self, vertex: int) -> codecs.IncrementalDecoder:
        decoder = self._decoders.get(vertex)
        if decoder is None:
            decoder = self._decoders[vertex] = codecs.getincrementaldecoder("utf-8")("replace")
        return decoder

    def _rest(self, vertex: int, head: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The end of a character cut off by the end of a step's output."""
        decoder = self._decoders.pop(vertex, None)
        text = decoder.decode(b"", final=True) if decoder is not None else ""
        if text:
            yield {"type": "step_output", **head, "data": text}
