"""A process's pseudo-terminal: the runtime's console socket, and the relay to the user.

With `process.terminal` in config.json and `--console-socket SOCK`, runc
creates a pty inside the container, makes its slave the process's stdin,
stdout and stderr, and sends the master over the unix socket (SCM_RIGHTS).
The relay then copies the master's output to the user and the user's input
to the master, and applies window size changes (docker's `run -t`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import selectors
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from builder.errors import BuildError

READ_CHUNK = 64 * 1024
POLL_SECONDS = 0.05
#: how long runc may take to send the master once it has started the container
RECEIVE_SECONDS = 10.0


def _no_size() -> tuple[int, int] | None:
    return None


@dataclass
class Terminal:
    """Where a terminal process's pty goes: `output` gets what it writes, `stdin` (a file
    descriptor, None: nothing) is copied to it; `window_size()` is the user's (rows,
    columns), applied at start and whenever `resized` is set."""

    output: Callable[[bytes], None]
    stdin: int | None = None
    window_size: Callable[[], tuple[int, int] | None] = _no_size
    resized: threading.Event = field(default_factory=threading.Event)


class ConsoleSocket:
    """A listening unix socket that receives one pty master from the runtime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.bind(str(path))
            self._sock.listen(1)
        except OSError:
            self._sock.close()
            raise

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def receive(self, timeout: float = RECEIVE_SECONDS) -> int:
        """The master's file descriptor; BuildError when none arrives in time."""
        self._sock.settimeout(timeout)
        try:
            conn, _ = self._sock.accept()
        except TimeoutError:
            raise BuildError("the runtime sent no terminal on its console socket") from None
        with conn:
            conn.settimeout(timeout)
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise BuildError("the runtime's console socket carried no file descriptor")
        return fds[0]


def get_window_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal `fd`; None when it is not one."""
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, columns, _, _ = struct.unpack("HHHH", packed)
    return (rows, columns) if rows and columns else None


def set_window_size(fd: int, size: tuple[int, int]) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def relay(
    master: int,
    terminal: Terminal,
    exited: Callable[[], bool],
    cancel: threading.Event | None,
) -> bool:
    """Copy between the pty master and the user until the pty closes or, once `exited()`,
    nothing more comes; False when `cancel` was set first."""
    size = terminal.window_size()
    if size is not None:
        set_window_size(master, size)
    stdin = terminal.stdin
    with selectors.DefaultSelector() as selector:
        selector.register(master, selectors.EVENT_READ)
        if stdin is not None:
            selector.register(stdin, selectors.EVENT_READ)
        drain_until: float | None = None
        while True:
            if cancel is not None and cancel.is_set():
                return False
            if terminal.resized.is_set():
                terminal.resized.clear()
                size = terminal.window_size()
                if size is not None:
                    set_window_size(master, size)
            if drain_until is None and exited():
                drain_until = time.monotonic() + POLL_SECONDS * 4
            events = selector.select(POLL_SECONDS)
            if not events and drain_until is not None and time.monotonic() >= drain_until:
                return True
            for key, _ in events:
                if key.fd == master:
                    try:
                        chunk = os.read(master, READ_CHUNK)
                    except OSError as error:  # EIO: every slave is closed
                        if error.errno != errno.EIO:
                            raise
                        chunk = b""
                    if not chunk:
                        return True
                    terminal.output(chunk)
                else:
                    data = os.read(key.fd, READ_CHUNK)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    _write_all(master, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except OSError:
            return  # the process is gone: its input no longer matters
        view = view[written:]
