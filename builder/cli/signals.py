"""`pybuild build` under SIGINT, SIGTERM and SIGHUP: the signal cancels the build.

By default SIGTERM and SIGHUP end the process at once, leaving its
containers and mounts behind, and SIGINT raises KeyboardInterrupt in the main
thread only, while the stages run in others. For the length of a build,
`cancel_on_signals` installs handlers that only set the build's cancel
event and remember the first signal: the solver stops every stage and
cleans up, and the CLI exits with 128 + the signal's number. Later signals
change nothing (they never raise). A signal the process ignores (SIGHUP
under `nohup`) stays ignored. The previous handlers come back afterwards,
unless the caller is about to exit because of the signal
(`CaughtSignal.ignore_more`): then more of them stay ignored, so the exit
code is the first signal's and not a death by a later one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

CANCELLING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: what `signal.signal` takes and returns (None: a handler not installed from Python)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@dataclass
class CaughtSignal:
    """The first cancelling signal that arrived during the build, if any."""

    signum: int | None = None
    ignoring: bool = False  #: ignore the signals after the block instead of restoring

    def ignore_more(self) -> None:
        """After the block, ignore these signals: the process is ending because of one."""
        self.ignoring = True

    @property
    def exit_code(self) -> int:
        """128 + N, as a shell reports a process that signal N ended; 130 without a signal."""
        return 128 + (self.signum if self.signum is not None else signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextmanager
def cancel_on_signals(
    cancel: threading.Event, signals: tuple[signal.Signals, ...] = CANCELLING
) -> Iterator[CaughtSignal]:
    """Set `cancel` on any of `signals` while the block runs; see the module docstring.

    Only the main thread may install handlers: from another thread, nothing
    is installed (the caller's signals behave as before).
    """
    caught = CaughtSignal()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if caught.signum is None:
            caught.signum = signum
        cancel.set()

    previous: dict[signal.Signals, Handler] = {}
    try:
        for signum in signals:
            if signal.getsignal(signum) == signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, handle)
        yield caught
    finally:
        for signum, handler in previous.items():
            if caught.ignoring:
                signal.signal(signum, signal.SIG_IGN)
            else:  # None: a handler not installed from Python; the default is the closest
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
