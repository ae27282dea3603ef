"""`--progress=tty`: a live display like BuildKit's, drawn with rich.

A `[+] Building 12.3s (5/9)` header, one line per started step with a
running timer, the tail of a running step's output dimmed under it, and a
static summary once the build ends. Importing this module imports rich:
`builder.solve.progress` imports it only when a tty display is made.
"""

from __future__ import annotations

import collections
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

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
    labelled,
)

TAIL_LINES = 6  #: output lines shown under a running (or failed) step in the tty display

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
            name = labelled(event.name, event.target)
            self.steps[event.vertex] = StepView(event.vertex, name, now)
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
        elif isinstance(event, StepCanceled):
            step.end("canceled", now, event.seconds)

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
        self.console = console if console is not None else Console(file=stream or sys.stderr)
        self._clock = clock
        self._refresh_per_second = refresh_per_second
        self._board = BuildBoard(started=clock())
        self._lock = threading.Lock()  # guards the board
        # guards starting and stopping the display; never taken while holding _lock
        self._live_lock = threading.Lock()
        self._live: Live | None = None
        self._closed = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._board.finished is not None:
                return
            self._board.apply(event, self._clock())
        if self._live is None:
            self._start()

    def _start(self) -> None:
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
