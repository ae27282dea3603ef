"""Rootless builds: run a pybuild command inside a user namespace of its own.

A user other than root cannot mount overlayfs, chown files to other ids, or
start runc with namespaces on the host. As rootless BuildKit and buildah do,
`enter` forks the command into a new user namespace (with a mount namespace)
whose uid 0 is the calling user and whose uids 1..N are the user's
subordinate range from /etc/subuid (gids likewise from /etc/subgid). The
maps are written by the setuid helpers `newuidmap` and `newgidmap` (Debian's
`uidmap`), the only way for an unprivileged process to map more than its own
id. Inside, the command is root over its own files: store files owned by
the user read as 0:0, so layers keep the owners the Dockerfile gives them.

The parent only relays signals and exits with the child's status; the child
goes on with the same command (a fork, not an exec, so the command line is
kept exactly). `MARKER` in the environment says that the namespace is
entered, so it is never entered twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal as signals
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from builder.errors import UsageError

#: set in the child: the user namespace is entered (its value: the calling user's uid)
MARKER = "PYBUILD_USERNS"
SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
#: the smallest subordinate range worth using: Debian's system ids (up to 999) and nobody
MIN_RANGE = 65536 - 1
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_PDEATHSIG = 1
#: signals the parent passes on to the child. A terminal's Ctrl-C reaches both, so the
#: child may see SIGINT twice; a build counts the first only (`builder.cli.signals`).
_RELAYED = (
    signals.SIGINT,
    signals.SIGTERM,
    signals.SIGHUP,
    signals.SIGQUIT,
    signals.SIGUSR1,
    signals.SIGUSR2,
)


@dataclass(frozen=True)
class IdRange:
    """`count` subordinate ids from `start` (one line of /etc/subuid or /etc/subgid)."""

    start: int
    count: int


@dataclass(frozen=True)
class Mapping:
    """The maps of the namespace: 0 is the user, 1..count the subordinate ranges."""

    uid: int
    gid: int
    uids: IdRange
    gids: IdRange


def in_user_namespace() -> bool:
    """True when this process runs in a user namespace other than the initial one."""
    try:
        fields = Path("/proc/self/uid_map").read_text().split()
    except OSError:
        return False
    return fields != ["0", "0", "4294967295"]


def parse_ranges(text: str, names: tuple[str, ...]) -> IdRange | None:
    """The first range of /etc/subuid-style `text` whose owner is one of `names`.

    Lines are `owner:start:count` with the owner a name or a numeric id;
    malformed lines and comments are skipped, as shadow-utils does.
    """
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in names:
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if start > 0 and count > 0:
            return IdRange(start, count)
    return None


def _range_of(path: Path, names: tuple[str, ...]) -> IdRange | None:
    try:
        return parse_ranges(path.read_text(), names)
    except OSError:
        return None


def free_start(texts: list[str], lowest: int = 100000) -> int:
    """A start above every range in the subid files' `texts`: a range there overlaps none."""
    start = lowest
    for text in texts:
        for line in text.splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                start = max(start, int(parts[1]) + int(parts[2]))
    return start


def _setup_hint(name: str) -> str:
    texts = []
    for path in (SUBUID, SUBGID):
        with contextlib.suppress(OSError):
            texts.append(path.read_text())
    start = free_start(texts)
    return (
        "as root, give the user subordinate ids and install newuidmap/newgidmap:\n"
        f"  echo {name}:{start}:65536 >> {SUBUID}\n"
        f"  echo {name}:{start}:65536 >> {SUBGID}\n"
        "  apt-get install uidmap\n"
        "(the range is above every range the files hold now; see docs/security.md), "
        "or run pybuild as root"
    )


def find_mapping(uid: int | None = None, gid: int | None = None) -> Mapping:
    """The maps for user `uid` (default: this process's); a UsageError says what to set up."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    names = (name, str(uid))
    uids, gids = _range_of(SUBUID, names), _range_of(SUBGID, names)
    missing = [str(path) for path, found in ((SUBUID, uids), (SUBGID, gids)) if found is None]
    if missing:
        raise UsageError(
            f"rootless pybuild needs subordinate ids for user {name} (uid {uid}): "
            f"none in {' and '.join(missing)}",
            hint=_setup_hint(name),
        )
    assert uids is not None and gids is not None
    for label, found in (("uid", uids), ("gid", gids)):
        if found.count < MIN_RANGE:
            raise UsageError(
                f"the subordinate {label} range of user {name} has {found.count} ids; "
                f"images need at least {MIN_RANGE + 1}",
                hint=_setup_hint(name),
            )
    for tool in ("newuidmap", "newgidmap"):
        if shutil.which(tool) is None:
            raise UsageError(
                f"rootless pybuild needs {tool}, which is not installed",
                hint="as root: apt-get install uidmap",
            )
    return Mapping(uid, gid, uids, gids)


def map_arguments(mapping: Mapping) -> tuple[list[str], list[str]]:
    """The `newuidmap PID ...` and `newgidmap PID ...` triples (inside, outside, count)."""
    uid_map = ["0", str(mapping.uid), "1", "1", str(mapping.uids.start), str(mapping.uids.count)]
    gid_map = ["0", str(mapping.gid), "1", "1", str(mapping.gids.start), str(mapping.gids.count)]
    return uid_map, gid_map


def _libc() -> ctypes.CDLL:
    # the C library already loaded (ctypes.util.find_library would spawn ldconfig: 100 ms)
    return ctypes.CDLL(None, use_errno=True)


def _write_maps(pid: int, mapping: Mapping) -> str | None:
    """Run newuidmap and newgidmap on `pid`; their error text, or None when both worked."""
    uid_map, gid_map = map_arguments(mapping)
    for tool, triples in (("newuidmap", uid_map), ("newgidmap", gid_map)):
        try:
            result = subprocess.run(
                [tool, str(pid), *triples],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                check=False,
            )
        except OSError as error:
            return f"{tool}: {error}"
        if result.returncode != 0:
            return result.stdout.decode(errors="replace").strip() or f"{tool} failed"
    return None


def _child(ready_w: int, go_r: int) -> None:
    """In the forked child: unshare, wait for the maps, become root of the namespace."""
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signals.SIGKILL, 0, 0, 0)
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS) != 0:
        error = os.strerror(ctypes.get_errno())
        os.write(ready_w, f"cannot create a user namespace: {error}".encode())
        os._exit(125)
    os.write(ready_w, b"\0")
    os.close(ready_w)
    answer = os.read(go_r, 4096)
    os.close(go_r)
    if answer != b"\0":
        os._exit(125)  # the parent reports the error
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    # The supplementary groups stay (unmapped, they read as nogroup): access to the
    # host's group-owned files, such as docker.sock for `--load`, still goes by them.
    # Mounts made here (overlay roots) never propagate anywhere.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        error = os.strerror(ctypes.get_errno())
        sys.stderr.write(f"pybuild: cannot make the mounts private: {error}\n")
        os._exit(125)


def _parent(pid: int, ready_r: int, go_w: int, mapping: Mapping) -> NoReturn:
    """Map the child's ids, then relay signals to it and exit with its status."""

    def relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in _RELAYED:
        signals.signal(signum, relay)
    message = os.read(ready_r, 4096)
    os.close(ready_r)
    unshared = message == b"\0"
    error = _write_maps(pid, mapping) if unshared else message.decode(errors="replace")
    os.write(go_w, b"\0" if error is None else b"x")
    os.close(go_w)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if error is not None:
        if unshared:
            hint = (
                "check the user's lines in /etc/subuid and /etc/subgid, and that "
                "newuidmap and newgidmap (package uidmap) are installed setuid root"
            )
        else:
            hint = (
                "the kernel refuses user namespaces to unprivileged users: allow them "
                "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), "
                "or run pybuild as root"
            )
        problem = UsageError(
            f"cannot enter the user namespace of a rootless build: {error}", hint=hint
        )
        sys.stderr.write(problem.render() + "\n")
        os._exit(problem.exit_code)
    sys.stdout.flush()
    sys.stderr.flush()
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says


def enter(store_root: Path) -> None:
    """Continue this command as root of a new user namespace (see the module docstring).

    Call it once, early, while the process has one thread. Returns in the
    child (with `MARKER` set and `PYBUILD_ROOT` pinned to `store_root`, the
    store an unprivileged user has, which root's default would not be); the
    parent never returns. Raises UsageError when the user has no
    subordinate ids or newuidmap/newgidmap are missing.
    """
    mapping = find_mapping()
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        _child(ready_w, go_r)
        os.environ[MARKER] = str(mapping.uid)
        os.environ["PYBUILD_ROOT"] = str(store_root)
        return
    os.close(ready_w)
    os.close(go_r)
    _parent(pid, ready_r, go_w, mapping)


def adapt_config(config: dict[str, Any]) -> None:
    """Change an OCI config so that runc can run it from inside the user namespace.

    runc is then root of a user namespace it did not create: it cannot
    touch the host's cgroups (no limits, no `--cgroup-parent`) nor mount
    sysfs without a network namespace of its own (host network: /sys is
    bound read-only instead, as rootless Podman does).
    """
    linux = config["linux"]
    if linux.pop("cgroupsPath", None) is not None:
        raise UsageError(
            "--cgroup-parent needs root: a rootless build cannot place steps in cgroups",
            hint="drop --cgroup-parent, or build as root",
        )
    linux.pop("resources", None)
    own_network = any(ns.get("type") == "network" for ns in linux.get("namespaces", []))
    for mount in config["mounts"]:
        if mount["type"] == "sysfs" and not own_network:
            mount.update(
                type="bind", source="/sys", options=["rbind", "nosuid", "noexec", "nodev", "ro"]
            )
