"""A RUN step's own network: a fresh network namespace reaching out through slirp4netns.

`start_network` makes an empty network namespace (`unshare --net=FILE`: a bind
mount of the namespace on a file in the run's private directory, which the
runtime joins by path), then starts slirp4netns on it: a user-mode TCP/IP
stack that gives the namespace a `tap0` interface (10.0.2.100/24, gateway
10.0.2.2, MTU 65520) and carries its connections out through ordinary
sockets of the builder. Its DNS forwarder, 10.0.2.3, relays to the
host's first nameserver, so the container's resolv.conf names only that
address (`resolv_conf`). `--disable-host-loopback` makes 10.0.2.2 refuse
to stand for the host's 127.0.0.1, and the namespace's own 127.0.0.1 is
its own loopback: nothing listening on the build machine's loopback is
reachable. slirp4netns runs sandboxed (its own mount namespace, every
capability dropped but CAP_NET_BIND_SERVICE, a seccomp filter).

slirp4netns never outlives the run: it stops when the write end of its
`--exit-fd` pipe closes, which `close` does, and which the kernel does when
the builder dies, even of SIGKILL. The namespace file left behind then is a
mount in the run's private directory that the store's recovery detaches.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError

#: slirp4netns's fixed addresses in its default 10.0.2.0/24 network
GUEST_ADDRESS = "10.0.2.100"
GATEWAY = "10.0.2.2"
DNS_FORWARDER = "10.0.2.3"
MTU = 65520  #: slirp4netns's maximum but one, as rootless Docker and Podman use
INTERFACE = "tap0"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 5
_MNT_DETACH = 2


@dataclass
class PrivateNetwork:
    """A started namespace and its stack; `close` undoes both and can be called again."""

    namespace: Path  #: the bind-mounted namespace, for the runtime's `linux.namespaces` path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    exit_fd: int | None = None  #: the write end of slirp4netns's exit pipe

    @property
    def nameserver(self) -> str:
        return DNS_FORWARDER

    def stop(self) -> None:
        """Tell slirp4netns to quit (close its exit pipe), without waiting.

        Its exit takes the kernel some 15 ms (the tap device goes away): the
        caller does other clean-up meanwhile, then `close` waits for it.
        """
        if self.exit_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.exit_fd)
            self.exit_fd = None

    def close(self) -> None:
        """Stop slirp4netns and wait for it (SIGKILL if it lingers), remove the namespace."""
        self.stop()
        if self.process is not None:
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if os.path.lexists(self.namespace):
            _detach(self.namespace)
            with contextlib.suppress(OSError):
                self.namespace.unlink()


def _detach(path: Path) -> None:
    """Lazily unmount `path` (the namespace bind mount); not mounted is fine."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # the process's own libc: no library search
    libc.umount2(os.fsencode(path), _MNT_DETACH)


def _binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(
            f"{name} not found: RUN steps need it for their own network",
            hint=f"install it with `apt-get install {package}`, or build with --network none",
        )
    return found


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(line for line in lines[-LOG_TAIL_LINES:] if line.strip())


def _make_namespace(path: Path) -> None:
    unshare = _binary("unshare", "util-linux")
    path.touch(mode=0o600)
    done = subprocess.run(
        [unshare, f"--net={path}", "true"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise BuildError(
            f"cannot create a network namespace for the RUN step: {message}",
            hint="build with --network none, or as a user allowed to create namespaces",
        )


def _wait_ready(ready_fd: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Block until slirp4netns reports the interface configured; BuildError if it does not."""
    deadline = time.monotonic() + READY_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(ready_fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                reason = f"not ready after {READY_TIMEOUT:g} s"
                break
            if os.read(ready_fd, 1):
                return
            process.wait()  # EOF without a byte: it exited
            reason = f"exit status {process.returncode}"
            break
    tail = _tail(log)
    raise BuildError(
        f"slirp4netns could not set up the RUN step's network ({reason})"
        + (f":\n{tail}" if tail else ""),
        hint="build with --network none if the step needs no network",
    )


def start_network(directory: Path) -> PrivateNetwork:
    """A new network namespace in `directory` (`netns`) with slirp4netns serving it.

    Raises BuildError when a tool is missing or the stack cannot start; what
    was made by then is undone.
    """
    slirp = _binary("slirp4netns", "slirp4netns")
    network = PrivateNetwork(directory / "netns", directory / "slirp4netns.log")
    try:
        _make_namespace(network.namespace)
        exit_read, network.exit_fd = os.pipe()
        ready_read, ready_write = os.pipe()
        try:
            with network.log.open("wb") as log:
                argv = [
                    slirp, "--configure", f"--mtu={MTU}", "--disable-host-loopback",
                    "--enable-sandbox", "--enable-seccomp", "--netns-type=path",
                    f"--exit-fd={exit_read}", f"--ready-fd={ready_write}",
                    str(network.namespace), INTERFACE,
                ]  # fmt: skip
                network.process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(exit_read, ready_write),
                    # its own session: a terminal's Ctrl-C goes to pybuild, which stops it
                    start_new_session=True,
                )
        finally:
            os.close(exit_read)
            os.close(ready_write)
        try:
            _wait_ready(ready_read, network.process, network.log)
        finally:
            os.close(ready_read)
    except BaseException:
        network.close()
        raise
    return network
