"""`pybuild run -t`: the command gets a real terminal (runc's console socket), as with
`docker run -t`; tested under a pseudo-terminal the test owns."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from tests.cli.test_containers import _our_mounts, _runc_containers, root
from tests.cli.test_image_commands import PYBUILD, run

__all__ = ["root"]  # the store fixture, shared


def _under_pty(
    store: Path, *args: str, rows: int = 33, columns: int = 77, keys: bytes = b""
) -> tuple[int, str]:
    """Run pybuild with a pty of `rows` x `columns` as its stdin, stdout and stderr;
    type `keys` once it runs. Its exit status and everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        [*PYBUILD, *args],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env={**os.environ, "PYBUILD_ROOT": str(store)},
    )  # fmt: skip
    before = termios.tcgetattr(slave)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if keys and b"ready" in out:
                os.write(master, keys)
                keys = b""
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: pybuild and the container are gone
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(30)
        assert termios.tcgetattr(slave) == before, "the terminal was left in raw mode"
    finally:
        os.close(slave)
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, out.decode(errors="replace")


def test_t_gives_the_command_a_terminal_of_the_users_size(root: Path) -> None:
    code, out = _under_pty(
        root, "run", "--rm", "-it", "busybox",
        "sh", "-c", "tty; test -t 0 && echo is-a-tty; stty size; echo TERM=$TERM; exit 7",
    )  # fmt: skip
    lines = out.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("/dev/pts/"), out
    assert lines[1:4] == ["is-a-tty", "33 77", "TERM=xterm"], out
    assert code == 7
    assert _runc_containers(root) == [] and _our_mounts(root) == []


def test_ctrl_c_goes_to_the_command_as_the_terminals_interrupt(root: Path) -> None:
    code, out = _under_pty(
        root, "run", "--rm", "-it", "busybox",
        "sh", "-c", "trap 'echo got-int; exit 5' INT; echo ready; while :; do sleep 0.1; done",
        keys=b"\x03",
    )  # fmt: skip
    assert "got-int" in out, out
    assert code == 5
    assert _runc_containers(root) == [] and _our_mounts(root) == []


def test_typed_input_reaches_the_command(root: Path) -> None:
    code, out = _under_pty(
        root, "run", "--rm", "-it", "busybox", "sh", "-c", "echo ready; read x; echo got-$x",
        keys=b"abc\r",
    )  # fmt: skip
    assert "got-abc" in out, out
    assert code == 0


def test_t_without_a_terminal_still_gives_one(root: Path) -> None:
    proc = run(root, "run", "--rm", "-t", "busybox", "sh", "-c", "tty; test -t 1 && echo yes")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.replace("\r\n", "\n").splitlines()[:2][1] == "yes", proc.stdout
    assert proc.stdout.startswith("/dev/pts/")
    assert _runc_containers(root) == [] and _our_mounts(root) == []


def test_it_without_a_terminal_is_refused_as_docker_does(root: Path) -> None:
    proc = run(root, "run", "--rm", "-it", "busybox", "true")
    assert (proc.returncode, proc.stderr) == (1, "the input device is not a TTY\n")


def test_a_missing_command_is_127_with_t(root: Path) -> None:
    proc = run(root, "run", "--rm", "-t", "busybox", "no-such-command")
    assert proc.returncode == 127, proc.stderr
    assert _runc_containers(root) == [] and _our_mounts(root) == []
