"""`pybuild build --progress MODE`: the live display, started by the build's first event.

The renderer is made when the first event arrives, so warnings written
while the build is prepared (an unreadable `--cache-from`) come before the
display, and a tty display's clock starts with the build. `builder.build`
closes it when the solve ends, before the outputs are exported.

Showing progress is best effort: when stderr is gone (the terminal was
closed, which also sends SIGHUP and cancels the build; a closed pipe), the
write errors are dropped, so they never replace the build's own outcome.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TextIO

from builder.solve.progress import Event, ProgressRenderer, make_reporter


class LiveProgress(ProgressRenderer):
    """`make_reporter(mode, stream)`, made at the first event; thread-safe."""

    def __init__(self, mode: str, stream: TextIO) -> None:
        self._mode = mode
        self._stream = stream
        self._lock = threading.Lock()
        self._renderer: ProgressRenderer | None = None
        self._closed = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._closed:
                return
            if self._renderer is None:
                self._renderer = make_reporter(self._mode, self._stream)
            renderer = self._renderer
        with contextlib.suppress(OSError):
            renderer(event)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            renderer = self._renderer
        if renderer is not None:
            with contextlib.suppress(OSError):
                renderer.close()
