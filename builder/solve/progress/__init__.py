"""What a build reports while it runs, and the renderers that show it.

The executor emits events (`StepStarted`, `StepOutput`, ...); a renderer
shows them. Events may come from several threads at once (stages run in
parallel), so every renderer here is thread-safe. `make_reporter` picks one
for `--progress`:

- `plain` (`PlainProgress`): BuildKit's `--progress=plain` format, for CI
  logs: `#N name`, `#N 0.123 output line`, `#N DONE 0.4s`, `#N CACHED`,
  `#N ERROR: ...`.
- `tty` (`TtyProgress`): a live display like BuildKit's: a
  `[+] Building 12.3s (5/9)` header, one line per started step with a
  running timer, the tail of a running step's output dimmed under it, and a
  static summary once the build ends.
- `rawjson` (`RawJsonProgress`): one JSON object per line, per event.
- `quiet`: nothing. `auto`: `tty` on a terminal outside CI, else `plain`.

A renderer must be closed (`close()`, or use it as a context manager) so a
live display stops and leaves its summary; closing twice is harmless:

    with make_reporter("auto", sys.stderr) as report:
        build(store, request, progress=report)

The rawjson schema (stable; keys in this order, `time` is RFC 3339 UTC with
microseconds, e.g. "2024-05-01T12:00:00.123456Z"):

    {"type": "build_started", "time": T, "total_steps": int}
    {"type": "step_started", "vertex": N, "time": T, "name": str}
    {"type": "step_output", "vertex": N, "time": T, "data": str}
    {"type": "step_log", "vertex": N, "time": T, "data": str}
    {"type": "step_done", "vertex": N, "time": T, "seconds": float, "cached": bool}
    {"type": "step_failed", "vertex": N, "time": T, "seconds": float, "message": str}

`data` of `step_output` is the process's output decoded as UTF-8 (invalid
bytes become U+FFFD); a character split across two chunks arrives whole in
the later object, so concatenating a vertex's `data` gives its output. A
chunk that only holds the start of a character emits no object.
"""

from __future__ import annotations

import codecs
import collections
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Self, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


@dataclass(frozen=True)
class BuildStarted:
    """Sent once, before any step, when the number of steps is known (for `(5/9)`)."""

    total_steps: int


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
    seconds: float | None = None  #: how long the step ran; None: the renderer measures it


Event = BuildStarted | StepStarted | StepOutput | StepLog | StepDone | StepFailed
Reporter = Callable[[Event], None]

MODES = ("auto", "plain", "tty", "rawjson", "quiet")
TAIL_LINES = 6  #: output lines shown under a running (or failed) step in the tty display
_MAX_PARTIAL = 64 * 1024  #: an unterminated output line longer than this is shown in pieces


def no_progress(event: Event) -> None:
    """Report nothing (`--progress quiet`, library use)."""


class ProgressRenderer:
    """A thread-safe reporter to close when the build ends (`with` closes it)."""

    def __call__(self, event: Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop showing progress (a live display leaves its summary); idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QuietProgress(ProgressRenderer):
    """Report nothing."""

    def __call__(self, event: Event) -> None:
        pass


def choose_mode(mode: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> str:
    """The renderer `mode` means on `stream`: `auto` becomes `tty` or `plain`."""
    if mode not in MODES:
        raise ValueError(f"unknown progress mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    env = os.environ if environ is None else environ
    in_ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return "tty" if _isatty(stream) and not in_ci and env.get("TERM") != "dumb" else "plain"


def make_reporter(
    mode: str, stream: TextIO, *, environ: Mapping[str, str] | None = None
) -> ProgressRenderer:
    """The renderer for `--progress mode` writing to `stream`; close it after the build.

    `auto` is `tty` when `stream` is a terminal, `CI` is unset (or empty,
    "0", "false", "no") and `TERM` is not "dumb"; otherwise `plain`.
    `environ` defaults to `os.environ`. An unknown mode raises ValueError.
    """
    chosen = choose_mode(mode, stream, environ)
    if chosen == "plain":
        return PlainProgress(stream)
    if chosen == "tty":
        return TtyProgress(stream)
    if chosen == "rawjson":
        return RawJsonProgress(stream)
    return QuietProgress()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _utf8_cut(data: bytes, limit: int) -> int:
    """An index near `limit` that does not split a UTF-8 character."""
    cut = limit
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 and (data[cut] & 0xC0) != 0x80 else limit


# --- plain -------------------------------------------------------------------------------


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


# --- rawjson -----------------------------------------------------------------------------


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
        head = {"vertex": event.vertex, "time": now}
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


# --- tty ---------------------------------------------------------------------------------

StepState = Literal["running", "done", "cached", "error", "canceled"]

_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, links
    r"|\x1b[@-_]"  # other two-byte escapes
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # all but tab


def printable(text: str) -> str:
    """`text` without escape sequences or control characters (tabs become spaces).

    A step's output is hostile: it must not move the cursor or clear the
    screen under the live display.
    """
    return _CONTROL.sub("", _ESCAPE.sub("", text)).expandtabs(4)


def _visible(line: bytes) -> str:
    """What a terminal shows of an output line: the text after its last carriage return."""
    line = line.rstrip(b"\r")
    return printable(line[line.rfind(b"\r") + 1 :].decode("utf-8", "replace"))


@dataclass
class StepView:
    """One step as the tty display shows it."""

    vertex: int
    name: str
    started: float
    state: StepState = "running"
    ended: float | None = None
    seconds: float | None = None  #: as the executor measured it
    tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )
    partial: bytes = b""  #: the unterminated last output line

    def elapsed(self, now: float) -> float:
        if self.seconds is not None:
            return self.seconds
        return (self.ended if self.ended is not None else now) - self.started

    def last_lines(self) -> list[str]:
        lines = list(self.tail)
        if self.partial:
            lines.append(_visible(self.partial))
        return lines[-TAIL_LINES:]

    def add_output(self, data: bytes) -> None:
        *lines, rest = (self.partial + data).split(b"\n")
        self.tail.extend(_visible(line) for line in lines)
        if len(rest) > 8192:  # only its visible end matters
            cut = rest.rfind(b"\r", 0, len(rest) - 1)
            rest = rest[cut + 1 :] if cut >= 0 else rest
            rest = rest[-8192:]
        self.partial = rest

    def end(self, state: StepState, now: float, seconds: float | None) -> None:
        if self.partial:
            self.tail.append(_visible(self.partial))
            self.partial = b""
        self.state, self.ended, self.seconds = state, now, seconds


@dataclass
class BuildBoard:
    """What the tty display knows of a build: its steps in start order. Not locked."""

    started: float
    total_steps: int = 0
    steps: dict[int, StepView] = field(default_factory=dict)  #: in start order
    finished: float | None = None

    def apply(self, event: Event, now: float) -> None:
        if isinstance(event, BuildStarted):
            self.total_steps = event.total_steps
            return
        if isinstance(event, StepStarted):
            self.steps.pop(event.vertex, None)  # started again: show it last
            self.steps[event.vertex] = StepView(event.vertex, event.name, now)
            return
        step = self.steps.get(event.vertex)
        if step is None:  # an event for a step nobody started: show it anyway
            step = self.steps[event.vertex] = StepView(event.vertex, f"#{event.vertex}", now)
        if isinstance(event, StepOutput):
            step.add_output(event.data)
        elif isinstance(event, StepLog):
            step.tail.append(printable(event.text))
        elif isinstance(event, StepDone):
            step.end("cached" if event.cached else "done", now, event.seconds)
        elif isinstance(event, StepFailed):
            step.end("error", now, event.seconds)

    def finish(self, now: float) -> None:
        """The build ended: steps still running were canceled."""
        for step in self.steps.values():
            if step.state == "running":
                step.end("canceled", now, None)
        self.finished = now

    def counts(self) -> tuple[int, int]:
        """(steps completed, steps known) for the header."""
        done = sum(1 for s in self.steps.values() if s.state != "running")
        return done, max(self.total_steps, len(self.steps))


_STYLE: dict[StepState, str] = {
    "running": "",
    "done": "blue",
    "cached": "blue",
    "error": "red",
    "canceled": "yellow",
}
_WORD: dict[StepState, str] = {
    "running": "",
    "done": "DONE ",
    "cached": "CACHED",
    "error": "ERROR ",
    "canceled": "CANCELED ",
}


def render_board(board: BuildBoard, now: float, width: int, height: int | None = None) -> Text:
    """The display of `board`: header, steps, output tails; at most `height` lines.

    A finished board renders every step (the summary); a live one, when too
    tall, drops the oldest completed steps first.
    """
    from rich.text import Text

    final = board.finished is not None
    elapsed = (board.finished if board.finished is not None else now) - board.started
    done, total = board.counts()
    header = f"[+] Building {elapsed:.1f}s ({done}/{total})" + (" FINISHED" if final else "")
    groups = [
        (step, [_step_line(step, now, width), *_tail_lines(step, width, final)])
        for step in board.steps.values()
    ]
    if height is not None:
        groups = _fit(groups, max(height - 2, 1))
    lines = [_fitted(Text(header, style="bold"), width)]
    lines.extend(line for _, group in groups for line in group)
    return Text("\n").join(lines)


def _fitted(text: Text, width: int) -> Text:
    text.truncate(max(width, 1), overflow="ellipsis")
    return text


def _step_line(step: StepView, now: float, width: int) -> Text:
    from rich.text import Text

    prefix = " => "
    right = "CACHED" if step.state == "cached" else f"{_WORD[step.state]}{step.elapsed(now):.1f}s"
    name = Text(printable(step.name.replace("\n", " ")))
    room = width - len(prefix) - len(right) - 1
    if room < 1:  # a very narrow terminal
        line = Text(prefix) + name + " " + right
    else:
        name.truncate(room, overflow="ellipsis")
        line = Text(prefix) + name + " " * (room - name.cell_len + 1) + right
    line.stylize(_STYLE[step.state])
    return _fitted(line, width)


def _tail_lines(step: StepView, width: int, final: bool) -> list[Text]:
    """The last output lines under a running step, or under a failed one."""
    from rich.text import Text

    if step.state not in ("running", "error") or (final and step.state != "error"):
        return []
    return [_fitted(Text(f" => => # {line}", style="dim"), width) for line in step.last_lines()]


def _fit(
    groups: list[tuple[StepView, list[Text]]], budget: int
) -> list[tuple[StepView, list[Text]]]:
    """Drop completed steps, oldest first, then the oldest others, until `budget` lines fit."""
    size = sum(len(lines) for _, lines in groups)
    kept = list(groups)
    for group in groups:
        if size <= budget:
            break
        if group[0].state != "running":
            kept.remove(group)
            size -= len(group[1])
    while size > budget and len(kept) > 1:
        size -= len(kept.pop(0)[1])
    if size > budget and kept:
        step, lines = kept[0]
        kept[0] = (step, lines[:budget])
    return kept


class TtyProgress(ProgressRenderer):
    """BuildKit's tty display, drawn with rich's Live on `stream` (or on `console`).

    Events only update a `BuildBoard` under a lock; rich's own thread draws
    it about `refresh_per_second` times a second, so a slow terminal never
    holds up the build. The display starts with the first event; `close()`
    stops it and leaves the summary (every step, a failed one with its last
    output lines). On a stream that is not a terminal, only the summary is
    written, at close.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        console: Console | None = None,
        refresh_per_second: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(file=stream or sys.stderr)
        self._clock = clock
        self._refresh_per_second = refresh_per_second
        self._board = BuildBoard(started=clock())
        self._lock = threading.Lock()  # guards the board
        # guards starting and stopping the display; never taken while holding _lock
        self._live_lock = threading.Lock()
        self._live: Any = None
        self._closed = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._board.finished is not None:
                return
            self._board.apply(event, self._clock())
        if self._live is None:
            self._start()

    def _start(self) -> None:
        from rich.live import Live

        with self._live_lock:
            if self._live is not None or self._closed:
                return
            live = Live(
                console=self.console,
                get_renderable=self.renderable,
                refresh_per_second=self._refresh_per_second,
            )
            live.start()
            self._live = live

    def renderable(self) -> Text:
        """The display as it is now (the summary once closed)."""
        with self._lock:
            final = self._board.finished is not None
            height = None if final else self.console.height
            return render_board(self._board, self._clock(), self.console.width, height)

    def close(self) -> None:
        with self._live_lock:
            if self._closed:
                return
            self._closed = True
            with self._lock:
                self._board.finish(self._clock())
            if self._live is not None:
                self._live.stop()  # its last refresh draws the summary, in full
