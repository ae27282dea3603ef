"""Recovery: remove what killed pybuild processes left behind, and keep the store private.

Every command that writes to the store runs `recover` once, when it first
takes the GC lock. It looks for names whose owner (`owners.py`) is dead:

- containers in `<root>/run/<runtime>/<id>`: killed and deleted
  (`<runtime> --root ... delete --force`; if that fails, the init process
  recorded in the runtime's `state.json` is killed and the state removed);
- temp dirs in `<root>/tmp/` and `<root>/snapshots/tmp-*`: the mounts below
  them are detached (lazily) and they are removed;
- memory-backed files in /dev/shm (`pybuild-secrets-*`, `pybuild-run-*`,
  `pybuild-ssh-*`): secret files, runtime bundles and ssh agent sockets,
  overwritten with zeros and removed; a run's network namespace, bind-mounted
  on a file in its bundle dir, is detached first (its slirp4netns stopped
  when the killed process's exit pipe closed);
- ssh socket dirs in the system temp dir (`pybuild-ssh-*`, where /dev/shm
  is not usable). The key agents recorded in an ssh dir (`*.pid`: pid and
  start time) are killed first, if they still run.

When nothing is left over this costs a few directory listings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builder.snapshot.trees import WalkErrors, detach_mounts_under, remove_tree, walk
from builder.store.locks import file_lock
from builder.store.owners import Owner, is_alive, owner_of, process_start
from builder.store.paths import TEMP_PREFIX, StoreLayout

#: Memory-backed files (secrets, runtime bundles) live here, named `pybuild-<kind>-<owner>-*`.
SHM = Path("/dev/shm")
SHM_PREFIX = "pybuild-"
SSH_PREFIX = "pybuild-ssh-"
AGENT_RECORD_SUFFIX = ".pid"
DIR_MODE = 0o700
RUNTIME_TIMEOUT = 30.0


@dataclass(frozen=True)
class RecoveryReport:
    containers: int  #: containers of dead processes killed and deleted
    temp: int  #: temp dirs and files of dead processes removed
    memory_files: int  #: /dev/shm entries of dead processes wiped


def _dead(name: str) -> Owner | None:
    owner = owner_of(name)
    return owner if owner is not None and not is_alive(owner) else None


def _listing(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def secure_directories(layout: StoreLayout) -> None:
    """Make the store's directories 0700 (only the owner may enter them); errors ignored."""
    for directory in layout.directories():
        with contextlib.suppress(OSError):
            if stat.S_IMODE(os.stat(directory).st_mode) != DIR_MODE:
                os.chmod(directory, DIR_MODE)


def dead_temp_entries(layout: StoreLayout) -> list[Path]:
    """Temp entries in tmp/ and snapshots/ whose owner process is dead."""
    found = [layout.tmp / n for n in _listing(layout.tmp) if _dead(n)]
    found += [
        layout.snapshots / n
        for n in _listing(layout.snapshots)
        if n.startswith(TEMP_PREFIX) and _dead(n)
    ]
    return found


def _kill_init(state_dir: Path) -> None:
    """Kill the container's init process recorded by the runtime, if it is still that process."""
    try:
        state = json.loads((state_dir / "state.json").read_text())
        pid, start = int(state["init_process_pid"]), int(state["init_process_start"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if pid > 0 and process_start(pid) == start:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _delete_container(runtime_root: Path, container_id: str) -> None:
    binary = shutil.which(runtime_root.name)
    state_dir = runtime_root / container_id
    if binary is not None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [binary, "--root", str(runtime_root), "delete", "--force", container_id],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=RUNTIME_TIMEOUT,
                check=False,
            )
    if os.path.lexists(state_dir):
        _kill_init(state_dir)
        remove_tree(state_dir, ignore_errors=True)


def _recover_containers(layout: StoreLayout) -> int:
    count = 0
    for runtime in _listing(layout.run):
        runtime_root = layout.run / runtime
        for container_id in _listing(runtime_root):
            if _dead(container_id):
                _delete_container(runtime_root, container_id)
                count += 1
    return count


def wipe_tree(path: Path) -> None:
    """Overwrite the regular files under `path` with zeros, then remove it all."""

    def visit(dir_fd: int, name: str, _rel: str, st: os.stat_result) -> bool:
        if stat.S_ISREG(st.st_mode) and st.st_size:
            with contextlib.suppress(OSError):
                fd = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    os.write(fd, bytes(st.st_size))
                    os.fsync(fd)
                finally:
                    os.close(fd)
        return stat.S_ISDIR(st.st_mode)

    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            walk(path, visit, None, WalkErrors())
        elif stat.S_ISREG(st.st_mode):
            visit(os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY), path.name, "", st)
    remove_tree(path, ignore_errors=True)


def dead_memory_files(shm: Path = SHM, temp: Path | None = None) -> list[Path]:
    """Dead owners' entries in /dev/shm, and their ssh socket dirs in the system temp dir."""
    found = [shm / n for n in _listing(shm) if n.startswith(SHM_PREFIX) and _dead(n)]
    temp = Path(tempfile.gettempdir()) if temp is None else temp
    if temp != shm:
        found += [temp / n for n in _listing(temp) if n.startswith(SSH_PREFIX) and _dead(n)]
    return found


def stop_agents(socket_dir: Path) -> None:
    """Kill the key agents recorded in a dead owner's ssh dir, if they are still those processes."""
    for name in _listing(socket_dir):
        if not name.endswith(AGENT_RECORD_SUFFIX):
            continue
        try:
            pid_text, start_text = (socket_dir / name).read_text().split()
            pid, start = int(pid_text), int(start_text)
        except (OSError, ValueError):
            continue
        if pid > 0 and process_start(pid) == start:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def recover(
    layout: StoreLayout, shm: Path = SHM, system_temp: Path | None = None
) -> RecoveryReport:
    """Clean up after dead pybuild processes (see the module doc); never raises for leftovers.

    `system_temp` is where ssh socket dirs are looked for besides `shm`
    (default: the system temp dir).
    """
    with file_lock(layout.recovery_lock):
        secure_directories(layout)
        containers = _recover_containers(layout)  # first: their processes use the mounts
        temp = dead_temp_entries(layout)
        for entry in temp:
            detach_mounts_under(entry)
            remove_tree(entry, ignore_errors=True)
        memory = dead_memory_files(shm, system_temp)
        for entry in memory:
            if entry.name.startswith(SSH_PREFIX):
                stop_agents(entry)
            detach_mounts_under(entry)
            wipe_tree(entry)
    return RecoveryReport(containers, len(temp), len(memory))
