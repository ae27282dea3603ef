"""Run one process in a transient OCI container, and always clean up.

`run` writes a private bundle (config.json, hosts, resolv.conf, hostname) in a
temporary directory (memory-backed /dev/shm when an owner tag is given: the
config holds the environment, `env=` secrets included), starts `runc run`
(or `crun run`) with the given state root (else a private one), streams
the merged stdout and stderr to a callback as chunks arrive, and returns
the exit status. Whatever happens (normal exit, an exception in the
callback, KeyboardInterrupt, `cancel` set from another thread), the
container is killed and deleted, the mount points the runtime created in
the root filesystem are removed, and the bundle and state directories
are gone before `run` returns or raises. For network "default" the run's own
network namespace and its slirp4netns (`builder.runtime.network`) are made
before the container and removed with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import shutil
import signal as signals
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BuildError
from builder.runtime import etcfiles
from builder.runtime.console import ConsoleSocket, Terminal, relay
from builder.runtime.mountstubs import find_mount_stubs, remove_mount_stubs
from builder.runtime.network import PrivateNetwork, start_network
from builder.runtime.rootpath import is_directory_in_root
from builder.runtime.spec import RunSpec, build_config
from builder.runtime.userns import adapt_config, in_user_namespace

READ_CHUNK = 64 * 1024
POLL_SECONDS = 0.05
KILL_GRACE_SECONDS = 5.0
KILL_RETRY_SECONDS = 0.2
RUNTIME_COMMAND_TIMEOUT = 30.0
ERROR_LINES = 5
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: memory-backed; bundles there are named `pybuild-run-<owner>-*` for the store's recovery
SHM = Path("/dev/shm")
# Run a command in a private mount namespace where the cgroup v2 half of a
# hybrid hierarchy is unmounted (the host's mounts are untouched).
_HIDE_UNIFIED_CGROUP = 'umount -l "$1" && shift && exec "$@"'
# In a user namespace (rootless) that mount is locked: cover it with an empty tmpfs instead.
_COVER_UNIFIED_CGROUP = 'mount -t tmpfs -o ro,size=4k tmpfs "$1" && shift && exec "$@"'


@dataclass(frozen=True)
class RunResult:
    """How the process ended.

    `exit_code` is what the runtime reports (128 + N when signal N killed the
    process, as in Docker); `signal` is N then, else None. `created_mount_targets`
    are the paths, relative to the root filesystem and parents first, that
    the runtime created as mount points and `run` removed again.
    """

    exit_code: int
    signal: int | None
    duration: float
    created_mount_targets: list[str]


class RunCancelledError(BuildError):
    """The run was cancelled (its `cancel` event was set); the container is gone."""


def _find_runtime(runtime: str) -> str:
    binary = shutil.which(runtime)
    if binary is None:
        package = Path(runtime).name
        raise BuildError(f"{runtime} not found: install it with `apt-get install {package}`")
    return binary


def _is_hybrid_with_v2_controllers() -> bool:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return False  # unified (cgroup v2 only)
    try:
        return bool((CGROUP_ROOT / "unified" / "cgroup.controllers").read_text().strip())
    except OSError:
        return False


def _runtime_invocation(runtime: str, binary: str, state_dir: Path, log_file: Path) -> list[str]:
    """The command line up to the runtime's subcommand."""
    options = ["--root", str(state_dir), "--log", str(log_file), "--log-format", "json"]
    if in_user_namespace():  # a rootless build: no cgroups, no new user namespace
        options.append("--rootless=true")
    if Path(runtime).name != "crun" or (CGROUP_ROOT / "cgroup.controllers").exists():
        return [binary, *options]
    # crun cannot drive cgroup v1 hierarchies as runc does: run it without cgroups.
    options.append("--cgroup-manager=disabled")
    if not _is_hybrid_with_v2_controllers():
        return [binary, *options]
    # Even so, crun refuses a hybrid host whose v2 hierarchy has controllers
    # ("cgroups in hybrid mode not supported"); hide that hierarchy from it.
    unshare = shutil.which("unshare")
    if unshare is None:
        raise BuildError("unshare not found: install it with `apt-get install util-linux`")
    hide = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c"]
    script = _COVER_UNIFIED_CGROUP if in_user_namespace() else _HIDE_UNIFIED_CGROUP
    return [*hide, script, "sh", str(CGROUP_ROOT / "unified"), binary, *options]


def _runtime_errors(log_file: Path) -> list[str]:
    """Error messages the runtime logged (JSON lines with level "error")."""
    try:
        text = log_file.read_text(errors="replace")
    except OSError:
        return []
    messages = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            messages.append(str(entry.get("msg", "")).strip())
    return [m for m in messages if m]


def _write_bundle(
    bundle: Path,
    rootfs: Path,
    spec: RunSpec,
    container_id: str,
    private_network: PrivateNetwork | None = None,
) -> dict:
    bundle.mkdir(mode=0o700)
    hosts = bundle / "hosts"
    resolv = bundle / "resolv.conf"
    hostname = bundle / "hostname"
    hosts.write_text(etcfiles.hosts_file(spec.hostname) + spec.sandbox.hosts_lines())
    if private_network is not None:
        resolv.write_text(etcfiles.private_resolv_conf(private_network.nameserver))
    else:
        resolv.write_text(etcfiles.resolv_conf())
    hostname.write_text(etcfiles.hostname_file(spec.hostname))
    for path in (hosts, resolv, hostname):
        path.chmod(0o644)
    config = build_config(
        spec, rootfs, hosts_file=hosts, resolv_conf=resolv, hostname_file=hostname,
        container_id=container_id,
        network_namespace=private_network.namespace if private_network is not None else None,
    )  # fmt: skip
    if in_user_namespace():
        adapt_config(config)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return config


def _feed_stdin(pipe: subprocess.Popen[bytes], data: bytes) -> None:
    def write() -> None:
        assert pipe.stdin is not None
        with contextlib.suppress(OSError):
            pipe.stdin.write(data)
        with contextlib.suppress(OSError):
            pipe.stdin.close()

    threading.Thread(target=write, name="pybuild-run-stdin", daemon=True).start()


def _stream(
    process: subprocess.Popen[bytes],
    output: Callable[[bytes], None] | None,
    cancel: threading.Event | None,
) -> bool:
    """Copy the process output to `output` until it ends; False when cancelled first."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if cancel is not None and cancel.is_set():
                return False
            if not selector.select(POLL_SECONDS):
                continue
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                break
            if output is not None:
                output(chunk)
    while True:
        if cancel is not None and cancel.is_set():
            return False
        try:
            process.wait(POLL_SECONDS)
            return True
        except subprocess.TimeoutExpired:
            continue


class _Runtime:
    """Invocations of one runtime binary on one private state directory."""

    def __init__(self, invocation: list[str]):
        self.invocation = invocation

    def command(self, *args: str) -> list[str]:
        return [*self.invocation, *args]

    def call(self, *args: str) -> None:
        """Run a housekeeping command; failures are ignored (the caller checks the outcome)."""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                self.command(*args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=RUNTIME_COMMAND_TIMEOUT,
                check=False,
            )


def _stop(runtime: _Runtime, process: subprocess.Popen[bytes], container_id: str) -> None:
    """Kill the container and make sure the runtime process has exited."""
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        # Repeated: a runtime still creating the container does not know it yet.
        runtime.call("kill", container_id, "KILL")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(KILL_RETRY_SECONDS)
    if process.poll() is None:
        # The runtime is stuck: kill it; `delete --force` then removes the container.
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signals.SIGKILL)
        process.wait()


@dataclass
class _Run:
    """What one run leaves behind, for `_clean_up`."""

    rootfs: Path
    private: Path
    container_id: str
    state_root: Path | None = None
    runtime: _Runtime | None = None
    process: subprocess.Popen[bytes] | None = None
    stubs: list[str] = field(default_factory=list)
    #: a detached process (`run -t`): its pid, and its wait status once reaped
    init_pid: int | None = None
    init_status: int | None = None
    #: network "default": the namespace and its slirp4netns
    network: PrivateNetwork | None = None

    def reap(self, block: bool = False) -> bool:
        """Wait for the detached process (pybuild is its subreaper); True once reaped."""
        if self.init_pid is None or self.init_status is not None:
            return True
        try:
            pid, status = os.waitpid(self.init_pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # not ours after all: it is gone
            pid, status = self.init_pid, 0
        if pid == 0:
            return False
        self.init_status = status
        return True

    @property
    def state_dir(self) -> Path:
        return self.state_root or self.private / "state"

    @property
    def log_file(self) -> Path:
        return self.private / "runtime.log"


def _clean_up(leftovers: _Run) -> tuple[list[str], list[str]]:
    """Stop and delete the container, remove its mount stubs and private directories.

    Returns the stubs removed and the runtime's logged errors. Every step can
    be repeated, so an interrupted clean-up is simply started again.
    """
    runtime, process = leftovers.runtime, leftovers.process
    if runtime is not None and process is not None:
        _stop(runtime, process, leftovers.container_id)
        if process.stdout is not None:
            process.stdout.close()
    if runtime is not None and not leftovers.reap():
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while not leftovers.reap() and time.monotonic() < deadline:
            runtime.call("kill", leftovers.container_id, "KILL")
            time.sleep(KILL_RETRY_SECONDS)
        if not leftovers.reap():
            with contextlib.suppress(OSError):
                os.kill(leftovers.init_pid or 0, signals.SIGKILL)
            leftovers.reap(block=True)
    if leftovers.network is not None:
        leftovers.network.stop()  # the container is gone: its network stack may go
    if runtime is not None and (leftovers.state_dir / leftovers.container_id).exists():
        runtime.call("delete", "--force", leftovers.container_id)
    if leftovers.network is not None:
        leftovers.network.close()
    removed = remove_mount_stubs(leftovers.rootfs, leftovers.stubs) if leftovers.stubs else []
    errors = _runtime_errors(leftovers.log_file)
    shutil.rmtree(leftovers.private, ignore_errors=True)
    return removed, errors


def _clean_up_despite_interrupts(leftovers: _Run) -> tuple[list[str], list[str]]:
    """`_clean_up`, run to its end even when Ctrl-C arrives meanwhile (it is re-raised after)."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            result = _clean_up(leftovers)
            break
        except KeyboardInterrupt as error:
            interrupted = error
    if interrupted is not None:
        raise interrupted
    return result


def _private_dir(work_dir: Path | None, owner: str | None) -> Path:
    """The run's bundle and log dir: in /dev/shm (named with the owner) when possible."""
    if owner and SHM.is_dir() and os.access(SHM, os.W_OK | os.X_OK):
        path = SHM / f"pybuild-run-{owner}-{secrets.token_hex(8)}"
        with contextlib.suppress(OSError):
            path.mkdir(mode=0o700)
            return path
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="pybuild-run-", dir=work_dir))


def _exit_status(returncode: int) -> tuple[int, int | None]:
    if returncode < 0:  # the runtime itself died of a signal
        return 128 - returncode, -returncode
    if 128 < returncode <= 128 + 64:
        return returncode, returncode - 128
    return returncode, None


def run(
    rootfs: Path,
    spec: RunSpec,
    *,
    runtime: str = "runc",
    output: Callable[[bytes], None] | None = None,
    stdin: bytes | int | None = None,
    cancel: threading.Event | None = None,
    work_dir: Path | None = None,
    state_root: Path | None = None,
    owner: str | None = None,
    terminal: Terminal | None = None,
) -> RunResult:
    """Run `spec` in a container on the already-mounted root filesystem `rootfs`.

    `output` receives stdout and stderr, merged, as they arrive; `stdin` is
    fed to the process (bytes), or is a file descriptor it reads as is (else it
    reads /dev/null). `work_dir` is where the
    private bundle and state directories are made (default: the system temp
    dir). `state_root` is the runtime's `--root` (default: a private dir); `owner`
    (`<pid>-<start>`, see `builder.store.owners`) goes into the container id and the bundle's
    name, in /dev/shm when it is usable, so that a later command can clean up after a killed
    one. Raises BuildError when the runtime is missing, the working directory does not exist in
    `rootfs`, or the runtime cannot start the container (the message carries its last error
    lines); RunCancelledError
    when `cancel` was set. With `terminal` (and `spec.terminal`), the process runs
    detached on a pty relayed to `terminal` (`output` and `stdin` are unused).
    A non-zero exit of the process is not an error here.
    """
    binary = _find_runtime(runtime)
    rootfs = Path(rootfs).absolute()
    if not rootfs.is_dir():
        raise BuildError(f"root filesystem {rootfs} is not a directory")
    if not is_directory_in_root(rootfs, spec.cwd):
        raise BuildError(
            f"working directory {spec.cwd} does not exist in the root filesystem",
            hint="create it before the run (WORKDIR creates it)",
        )
    private = _private_dir(work_dir, owner)
    tag = f"{owner}-" if owner else ""
    leftovers = _Run(rootfs, private, f"pybuild-{tag}{secrets.token_hex(8)}", state_root)
    try:
        tool = _Runtime(
            _runtime_invocation(runtime, binary, leftovers.state_dir, leftovers.log_file)
        )
        leftovers.runtime = tool
        bundle = private / "bundle"
        if spec.network == "default":
            leftovers.network = start_network(private)
        config = _write_bundle(bundle, rootfs, spec, leftovers.container_id, leftovers.network)
        leftovers.stubs = find_mount_stubs(rootfs, [m["destination"] for m in config["mounts"]])
        started = time.monotonic()
        if terminal is not None:
            returncode = _run_on_console(tool, bundle, leftovers, terminal, cancel)
            finished = returncode is not None
            duration = time.monotonic() - started
            process = None
        else:
            process = _start(tool, bundle, leftovers, stdin, runtime)
            finished = _stream(process, output, cancel)
            duration = time.monotonic() - started
            returncode = process.returncode
    finally:
        removed, errors = _clean_up_despite_interrupts(leftovers)

    if not finished:
        raise RunCancelledError("the run was cancelled; its container was killed")
    assert returncode is not None
    if returncode != 0 and errors and leftovers.init_status is None:
        name = Path(runtime).name
        raise BuildError(
            f"{name} could not run the container: " + "\n".join(errors[-ERROR_LINES:]),
        )
    exit_code, signal = _exit_status(returncode)
    created = [stub for stub in leftovers.stubs if stub in removed]
    return RunResult(exit_code, signal, duration, created)


def _start(
    tool: _Runtime, bundle: Path, leftovers: _Run, stdin: bytes | int | None, runtime: str
) -> subprocess.Popen[bytes]:
    """`runc run` in the foreground, on pipes."""
    try:
        process = subprocess.Popen(
            tool.command("run", "--bundle", str(bundle), leftovers.container_id),
            stdin=(
                stdin
                if isinstance(stdin, int)
                else subprocess.PIPE
                if stdin is not None
                else subprocess.DEVNULL
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Its own session: a terminal's Ctrl-C reaches pybuild, which stops the container.
            start_new_session=True,
        )
    except OSError as error:
        raise BuildError(f"cannot start {runtime}: {error}") from error
    leftovers.process = process
    if isinstance(stdin, bytes):
        _feed_stdin(process, stdin)
    return process


def _set_subreaper(on: bool) -> None:
    """PR_SET_CHILD_SUBREAPER: a detached container process becomes our child when
    the runtime exits, so that its exit status is ours to read."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1 if on else 0, 0, 0, 0)


def _run_on_console(
    tool: _Runtime,
    bundle: Path,
    leftovers: _Run,
    terminal: Terminal,
    cancel: threading.Event | None,
) -> int | None:
    """`runc run -d --console-socket`: the process gets a pty whose master comes over
    the socket; relay it until the process exits. Its wait status as a Popen
    returncode, the runtime's when it could not start it; None when cancelled."""
    socket_path = leftovers.private / "console.sock"
    pid_file = leftovers.private / "init.pid"
    with ConsoleSocket(socket_path) as console:
        _set_subreaper(True)  # only while the runtime runs: its orphan becomes our child
        try:
            process = subprocess.Popen(
                tool.command(
                    "run",
                    "--detach",
                    "--console-socket",
                    str(socket_path),
                    "--pid-file",
                    str(pid_file),
                    "--bundle",
                    str(bundle),
                    leftovers.container_id,
                ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            leftovers.process = process
            while True:
                if cancel is not None and cancel.is_set():
                    return None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(POLL_SECONDS)
                    break
        except OSError as error:
            raise BuildError(f"cannot start {tool.invocation[0]}: {error}") from error
        finally:
            _set_subreaper(False)
        if process.returncode != 0:
            return process.returncode
        leftovers.init_pid = int(pid_file.read_text().strip())
        master = console.receive()
    try:
        if not relay(master, terminal, leftovers.reap, cancel):
            return None
    finally:
        os.close(master)
    leftovers.reap(block=True)
    assert leftovers.init_status is not None
    return os.waitstatus_to_exitcode(leftovers.init_status)  # -N: killed by signal N
