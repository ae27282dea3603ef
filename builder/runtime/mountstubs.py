"""Mount points the runtime creates in the root filesystem, and removing them again.

runc and crun create a missing mount destination (an empty file for a file
bind such as /etc/hosts, a directory otherwise, with any missing parents)
inside the root filesystem. Those stubs are not the step's work: like
BuildKit's `MountStubsCleaner` we note, before the run, which destinations do
not exist, and afterwards remove the ones still empty, keeping the parent
directory's timestamps so the layer does not change because of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from builder.runtime.rootpath import resolve_in_root

_O_PATH = getattr(os, "O_PATH", 0)


def _is_below(path: str, other: str) -> bool:
    return other == "" or path == other or path.startswith(other + "/")


def find_mount_stubs(rootfs: Path, destinations: Iterable[str]) -> list[str]:
    """Paths (relative to `rootfs`) the runtime will create for these mount destinations.

    Destinations are taken in mount order; one that lands below an earlier
    destination is created on that mount (a tmpfs, say), not in the root
    filesystem, and is skipped. Parents come before their children.
    """
    stubs: list[str] = []
    mounted: list[str] = []
    for destination in destinations:
        try:
            resolved = resolve_in_root(rootfs, destination)
        except OSError:
            continue  # the runtime will refuse this mount; nothing is created
        target = resolved.relative
        if any(_is_below(target, earlier) for earlier in mounted):
            continue
        mounted.append(target)
        base = list(resolved.existing)
        for part in resolved.missing:
            base.append(part)
            stub = "/".join(base)
            if stub not in stubs:
                stubs.append(stub)
    return stubs


def _open_parent(rootfs: Path, parts: list[str]) -> int | None:
    """An O_PATH fd of the directory holding `parts[-1]`, walking no symlink at all."""
    fd = os.open(rootfs, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in parts[:-1]:
        try:
            child = os.open(
                part, _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = child
    return fd


def _is_empty_stub(parent_fd: int, name: str) -> bool:
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if not stat.S_ISDIR(st.st_mode):
        return False
    fd = os.open(
        name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd
    )
    try:
        return not os.listdir(fd)
    finally:
        os.close(fd)


def _restore_parent_times(rootfs: Path, parts: list[str], times: tuple[int, int]) -> None:
    if len(parts) == 1:
        os.utime(rootfs, ns=times)
        return
    grandparent = _open_parent(rootfs, parts[:-1])
    if grandparent is None:
        return
    try:
        os.utime(parts[-2], ns=times, dir_fd=grandparent, follow_symlinks=False)
    finally:
        os.close(grandparent)


def remove_mount_stubs(rootfs: Path, stubs: Iterable[str]) -> list[str]:
    """Remove the stubs that are still empty (deepest first); return the ones removed.

    Nothing is followed: a stub whose path now runs through a symlink (the
    step replaced a directory) is left alone, as is one the step filled.
    """
    removed = []
    for stub in sorted(set(stubs), key=lambda s: s.count("/"), reverse=True):
        parts = stub.split("/")
        parent_fd = _open_parent(rootfs, parts)
        if parent_fd is None:
            continue
        try:
            if not _is_empty_stub(parent_fd, parts[-1]):
                continue
            parent = os.stat(parent_fd)
            times = (parent.st_atime_ns, parent.st_mtime_ns)
            st = os.stat(parts[-1], dir_fd=parent_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(parts[-1], dir_fd=parent_fd)
            else:
                os.unlink(parts[-1], dir_fd=parent_fd)
            removed.append(stub)
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EBUSY, errno.ENOTDIR):
                raise
            continue
        finally:
            os.close(parent_fd)
        with contextlib.suppress(OSError):
            _restore_parent_times(rootfs, parts, times)
    return removed
