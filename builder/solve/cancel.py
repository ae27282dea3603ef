"""The build's stop event: set inside (a stage failed) or outside (the caller cancels).

Steps poll one event (`is_set`) to know they must stop: the runtime kills a
running container, a wait for a locked cache gives up. The executor must
also know *why* they stopped: a failing stage is that stage's error, a
cancel from outside is `BuildCancelled`. `BuildStop` is that event: its own
flag is set by the scheduler when a stage fails, and it also reads the
caller's event (never setting it, so a caller's event means "cancel" only).
"""

from __future__ import annotations

import threading
import time

_POLL_SECONDS = 0.05


class BuildStop(threading.Event):
    """An Event that is also set while `outside` is set; `set()` sets only its own flag."""

    def __init__(self, outside: threading.Event | None = None) -> None:
        super().__init__()
        self.outside = outside

    def cancelled(self) -> bool:
        """Whether the caller cancelled the build (its event is set)."""
        return self.outside is not None and self.outside.is_set()

    def is_set(self) -> bool:
        return super().is_set() or self.cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until either event is set; polls the caller's, which tells nobody when set."""
        if self.outside is None:
            return super().wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            super().wait(min(left, _POLL_SECONDS))
        return True
