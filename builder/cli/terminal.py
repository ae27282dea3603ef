"""The user's side of `pybuild run -t`: raw mode on the terminal, window size, SIGWINCH."""

from __future__ import annotations

import contextlib
import signal
import sys
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from types import FrameType

from builder.runtime.console import Terminal, get_window_size


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """The terminal `fd` in raw mode (keys, Ctrl-C included, go through as bytes) for the
    block; its settings come back on every way out."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def user_terminal(output: Callable[[bytes], None], interactive: bool) -> Iterator[Terminal]:
    """The Terminal `run -t` relays to: stdin copied with `-i` (in raw mode when it is a
    terminal, as `docker run -it`), the window size of stdin's or stdout's terminal,
    followed on SIGWINCH."""
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    size_fd = next((fd for fd in (stdin, stdout) if _isatty(fd)), None)
    resized = threading.Event()
    terminal = Terminal(
        output=output,
        stdin=stdin if interactive else None,
        window_size=(lambda: get_window_size(size_fd)) if size_fd is not None else _none,
        resized=resized,
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGWINCH, _on_resize(resized))
    try:
        if interactive and _isatty(stdin):
            with raw_mode(stdin):
                yield terminal
        else:
            yield terminal
    finally:
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def _on_resize(resized: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        resized.set()

    return handle


def _none() -> tuple[int, int] | None:
    return None


def _isatty(fd: int) -> bool:
    import os

    return os.isatty(fd)
