"""SSH agents for `RUN --mount=type=ssh`: the `--ssh` option, key agents, socket forwarding.

`--ssh` takes buildx's syntax `ID[=PATH[,PATH...]]`: `default` alone is the
agent of `$SSH_AUTH_SOCK`; one PATH that is a socket is an agent; otherwise
the PATHs are private key files, which pybuild loads into a private
`ssh-agent` (Debian package openssh-client) for the length of the step. The
agent runs in its own session, so it would outlive a killed pybuild: its pid
and start time are written next to its socket (`<sock>.pid`), where the
store's recovery finds and stops it.

The container never sees the host's socket itself: `forward_agent` listens
on a new socket (owned by the mount's uid/gid, with its mode, as BuildKit
does) and relays each connection to the agent, so neither the user's socket
nor its permissions change.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from builder.errors import BuildError, UsageError
from builder.store.owners import process_start
from builder.store.recovery import AGENT_RECORD_SUFFIX

SSH_SYNTAX = "--ssh default, --ssh ID=/path/to/agent.sock or --ssh ID=/path/to/key[,key...]"
AGENT_START_SECONDS = 5.0
RELAY_CHUNK = 64 * 1024


def parse_ssh_option(text: str, environ: Mapping[str, str] | None = None) -> tuple[str, list[Path]]:
    """Parse one `--ssh` value into (id, paths); UsageError when it is unusable.

    Without paths the agent is `$SSH_AUTH_SOCK`. Paths are made absolute and
    must exist: one socket, or private key files.
    """
    env_now = os.environ if environ is None else environ
    ssh_id, eq, rest = text.partition("=")
    if not ssh_id:
        raise UsageError(f"invalid --ssh {text!r}: the id is missing", hint=SSH_SYNTAX)
    paths = [p for p in rest.split(",") if p] if eq else []
    if not paths:
        sock = env_now.get("SSH_AUTH_SOCK", "")
        if not sock:
            raise UsageError(
                f"--ssh {text}: SSH_AUTH_SOCK is not set, so there is no agent to forward",
                hint="start one (eval $(ssh-agent); ssh-add) or name a socket or key: "
                + SSH_SYNTAX,
            )
        paths = [sock]
    resolved = [Path(p).absolute() for p in paths]
    for path in resolved:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise UsageError(
                f"--ssh {ssh_id}: cannot use {path}: {exc.strerror or exc}", hint=SSH_SYNTAX
            ) from None
        if stat.S_ISSOCK(mode) and len(resolved) > 1:
            raise UsageError(f"--ssh {ssh_id}: {path} is a socket: give one socket, or key files")
        if not stat.S_ISSOCK(mode) and not stat.S_ISREG(mode):
            raise UsageError(f"--ssh {ssh_id}: {path} is neither an agent socket nor a key file")
    return ssh_id, resolved


def is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


@contextmanager
def key_agent(keys: Sequence[Path], sock: Path, ssh_id: str) -> Iterator[Path]:
    """A private `ssh-agent` holding `keys`, listening on the new socket `sock`; stopped on exit."""
    agent_binary, add_binary = shutil.which("ssh-agent"), shutil.which("ssh-add")
    if agent_binary is None or add_binary is None:
        raise BuildError(
            f"--ssh {ssh_id} names key files, which need ssh-agent and ssh-add",
            hint="install them with `apt-get install openssh-client`, or forward a running agent",
        )
    process = subprocess.Popen(
        [agent_binary, "-D", "-a", str(sock)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        record_agent(sock, process.pid)
        deadline = time.monotonic() + AGENT_START_SECONDS
        while not is_socket(sock):
            if process.poll() is not None or time.monotonic() > deadline:
                said = (
                    process.stderr.read() if process.poll() is not None and process.stderr else b""
                )
                detail = said.decode(errors="replace").strip()
                raise BuildError(
                    f"--ssh {ssh_id}: ssh-agent did not start" + (f": {detail}" if detail else "")
                )
            time.sleep(0.01)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_AUTH_SOCK": str(sock)}
        env["SSH_ASKPASS_REQUIRE"] = "never"  # a passphrase cannot be asked for here
        added = subprocess.run(
            [add_binary, "-q", *map(str, keys)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            check=False,
        )
        if added.returncode != 0:
            lines = added.stderr.decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else "ssh-add failed"
            raise BuildError(
                f"--ssh {ssh_id}: cannot load the keys: {detail}",
                hint="keys with a passphrase must be added to your own agent (ssh-add), "
                "then forwarded with --ssh default",
            )
        yield sock
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(AGENT_START_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()
        for path in (sock, agent_record(sock)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def agent_record(sock: Path) -> Path:
    """`<sock>.pid`: the pid and start time of the agent serving `sock`."""
    return sock.with_name(sock.name + AGENT_RECORD_SUFFIX)


def record_agent(sock: Path, pid: int) -> None:
    """Write the agent's `<pid> <start>`, so a later command can stop it if pybuild was killed."""
    start = process_start(pid)
    if start is not None:
        agent_record(sock).write_text(f"{pid} {start}\n")


class _Relay:
    """Accepts connections on `listener` and relays each to a new connection to `upstream`."""

    def __init__(self, listener: socket.socket, upstream: Path) -> None:
        self.listener = listener
        self.upstream = upstream
        self.stop_reader, self.stop_writer = socket.socketpair()
        self.peers: dict[socket.socket, socket.socket] = {}
        self.thread = threading.Thread(target=self._serve, name="pybuild-ssh-relay", daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.listener, selectors.EVENT_READ)
            selector.register(self.stop_reader, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        if sock is self.stop_reader:
                            return
                        if sock is self.listener:
                            self._accept(selector)
                        else:
                            self._forward(selector, sock)
            finally:
                for sock in list(self.peers):
                    sock.close()
                self.peers.clear()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            agent.settimeout(AGENT_START_SECONDS)
            agent.connect(str(self.upstream))
            agent.settimeout(None)
        except OSError:
            agent.close()
            client.close()
            return
        client.setblocking(True)
        self.peers[client], self.peers[agent] = agent, client
        selector.register(client, selectors.EVENT_READ)
        selector.register(agent, selectors.EVENT_READ)

    def _forward(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        peer = self.peers[sock]
        try:
            data = sock.recv(RELAY_CHUNK)
            if data:
                peer.sendall(data)
                return
        except OSError:
            pass
        for end in (sock, peer):
            selector.unregister(end)
            self.peers.pop(end, None)
            end.close()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.stop_writer.send(b"x")
        self.thread.join()
        self.stop_reader.close()
        self.stop_writer.close()


@contextmanager
def forward_agent(
    upstream: Path, sock_path: Path, *, uid: int, gid: int, mode: int
) -> Iterator[None]:
    """Serve the agent at `upstream` on a new socket `sock_path` owned uid:gid with `mode`."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    relay: _Relay | None = None
    try:
        listener.bind(str(sock_path))
        os.chown(sock_path, uid, gid)
        os.chmod(sock_path, mode)
        listener.listen(16)
        started = _Relay(listener, upstream)
        started.start()
        relay = started
        yield
    finally:
        if relay is not None:
            relay.stop()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()
