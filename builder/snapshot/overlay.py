"""overlayfs mounts of layer snapshots: a writable root for a step, or a read-only view.

The lower dirs are the snapshot `fs` dirs of the layers below, base first
as given, top first on the mount line (overlayfs wants the top-most first).
Their paths are long, and the mount options must fit in one page, so they
are passed as short symlinks (`l/0`, `l/1`...) relative to a private work
dir, as Docker's overlay2 driver does. `redirect_dir`, `metacopy` and
`index` are off, so the upper dir is a plain overlay diff that
`write_layer(from_overlay_upper=True)` can read. In a user namespace (a
rootless build) the mount adds `userxattr` (and `redirect_dir=nofollow`, the
form of "off" it accepts): overlayfs then keeps its opaque-directory marks
in `user.overlay.*` xattrs, which root of a user namespace may write
(kernel 5.11 and later). Where the kernel refuses that mount in a user
namespace, `fuse-overlayfs` mounts the same dirs instead (`PYBUILD_OVERLAY`
picks one: `kernel` or `fuse-overlayfs`); `diff.prune_unchanged_dirs` turns
its opaque-directory marks into the kernel's form.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError
from builder.snapshot.trees import remove_tree
from builder.snapshot.whiteouts import USER_OVERLAY_XATTR_PREFIX, overlay_xattr_prefix

#: which overlay mounts snapshots: "kernel", "fuse-overlayfs", or unset: the kernel's, and
#: fuse-overlayfs when the kernel refuses in a user namespace (a rootless build)
OVERLAY_ENV = "PYBUILD_OVERLAY"
FUSE_OVERLAYFS = "fuse-overlayfs"
_FUSE_TIMEOUT = 60.0

_MNT_DETACH = 2
_MS_RDONLY = 1
_MS_BIND = 4096
_MS_REC = 16384
_PAGE = 4096


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def mount(source: str, target: Path, fstype: str, flags: int = 0, data: str = "") -> None:
    libc = _libc()
    result = libc.mount(
        source.encode(), os.fsencode(target), fstype.encode(), flags, data.encode() or None
    )
    if result != 0:
        err = ctypes.get_errno()
        raise BuildError(f"cannot mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: Path) -> None:
    """Detach `target` (lazily, so a busy mount never blocks clean-up)."""
    libc = _libc()
    if libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22,):  # EINVAL: not mounted
            raise BuildError(f"cannot unmount {target}: {os.strerror(err)}")


@dataclass(frozen=True)
class OverlayRoot:
    """A mounted root: `merged` is what the step sees, `upper` collects its changes."""

    merged: Path
    upper: Path | None


def _link_lowers(work: Path, lowers: list[Path]) -> str:
    """Short relative names for the lower dirs, top-most first."""
    links = work / "l"
    links.mkdir()
    names = []
    for index, lower in enumerate(reversed(lowers)):
        (links / str(index)).symlink_to(lower)
        names.append(f"l/{index}")
    return ":".join(names)


#: The working directory is per process; mounts from parallel stages take turns.
_CWD_LOCK = threading.Lock()


def _chdir_mount(work: Path, fstype: str, target: Path, options: str) -> None:
    """Mount with relative lowerdir paths: resolved against `work` at mount time."""
    if len(options) >= _PAGE:
        raise BuildError(f"too many layers to mount ({options.count(':') + 1})")
    with _CWD_LOCK:
        old = os.getcwd()
        os.chdir(work)
        try:
            mount("overlay", target, fstype, 0, options)
        finally:
            os.chdir(old)


def _fuse_mount(work: Path, target: Path, options: str) -> None:
    """Mount with fuse-overlayfs (relative paths from `work`); it serves in the background."""
    binary = shutil.which(FUSE_OVERLAYFS)
    if binary is None:
        raise BuildError(
            f"{FUSE_OVERLAYFS} not found: install it with `apt-get install {FUSE_OVERLAYFS}`"
        )
    try:
        result = subprocess.run(
            [binary, "-o", options, str(target)],
            cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=_FUSE_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BuildError(f"cannot run {FUSE_OVERLAYFS}: {error}") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "lazytime" not in line]
        raise BuildError(
            f"{FUSE_OVERLAYFS} cannot mount {target}: {' '.join(lines[-3:]) or 'failed'}",
            hint="it needs /dev/fuse readable and writable by the user (mode 0666)",
        )


def _overlay_mount(work: Path, target: Path, dirs: str, kernel_tail: str) -> None:
    """Mount `dirs` (lowerdir=...[,upperdir=...,workdir=...]) with the overlay this host allows."""
    choice = os.environ.get(OVERLAY_ENV, "")
    if choice not in ("", "kernel", FUSE_OVERLAYFS):
        raise BuildError(f"{OVERLAY_ENV}={choice!r}: use kernel or {FUSE_OVERLAYFS}")
    if choice != FUSE_OVERLAYFS:
        try:
            _chdir_mount(work, "overlay", target, dirs + kernel_tail)
            return
        except BuildError as refused:
            rootless = overlay_xattr_prefix() == USER_OVERLAY_XATTR_PREFIX
            if choice == "kernel" or not rootless or shutil.which(FUSE_OVERLAYFS) is None:
                raise
            try:
                _fuse_mount(work, target, dirs)
            except BuildError as error:
                raise BuildError(f"{refused.message}; {error.message}", hint=error.hint) from None
            return
    _fuse_mount(work, target, dirs)


@contextmanager
def overlay_root(lowers: list[Path], work: Path, *, writable: bool = True) -> Iterator[OverlayRoot]:
    """Mount `lowers` (base first) at `work/merged`; with `writable`, an upper dir collects changes.

    `work` is an empty private dir on the same filesystem as the upper dir
    should live (the store's tmp/). The mount is gone when the block ends,
    whatever happens inside it; `work/upper` is left for the caller to
    commit or delete.
    """
    merged = work / "merged"
    merged.mkdir(parents=True)
    options_tail = ",redirect_dir=off,metacopy=off,index=off"
    if overlay_xattr_prefix() == USER_OVERLAY_XATTR_PREFIX:
        # userxattr wants redirects neither made nor followed ("nofollow")
        options_tail = ",userxattr,redirect_dir=nofollow,metacopy=off,index=off"
    if writable:
        upper, scratch = work / "upper", work / "work"
        upper.mkdir()
        scratch.mkdir()
        if lowers:
            lower = _link_lowers(work, lowers)
        else:  # overlayfs needs a lower dir: an empty one
            (work / "empty").mkdir()
            lower = "empty"
        _overlay_mount(work, merged, f"lowerdir={lower},upperdir=upper,workdir=work", options_tail)
    else:
        upper = None
        if not lowers:
            (work / "empty").mkdir()
            lowers = [work / "empty"]
        if len(lowers) == 1:  # a read-only bind: overlayfs wants two lowers without upper
            mount(str(lowers[0]), merged, "", _MS_BIND | _MS_REC)
            mount("", merged, "", _MS_BIND | _MS_REC | _MS_RDONLY | 32)  # 32: MS_REMOUNT
        else:
            _overlay_mount(work, merged, f"lowerdir={_link_lowers(work, lowers)}", options_tail)
    try:
        yield OverlayRoot(merged=merged, upper=upper)
    finally:
        unmount(merged)


def remove_work_dir(work: Path) -> None:
    """Delete a step's work dir (root-owned files, devices, mounts, any depth).

    What cannot be deleted stays for the recovery of a later command.
    """
    remove_tree(work, ignore_errors=True)
