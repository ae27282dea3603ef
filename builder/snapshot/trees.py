"""Walking and removing directory trees of any depth, without recursion.

A path deeper than PATH_MAX cannot be named, and a walker that keeps one
fd per level runs out of fds, so `walk` goes down with `openat` from the
parent's fd and back up with `..` (checked against the device and inode
seen on the way down): it holds one directory fd whatever the depth.
`open_below` opens a path of any length below a directory fd.

`remove_tree` first detaches (lazily, MNT_DETACH) every mount at or below
the tree, found in /proc/self/mountinfo: a bind mount shares the device of
the store, so deleting through it would delete the files it shows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_MNT_DETACH = 2
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH_PIECE = 4000  # bytes of path given to one openat: under PATH_MAX (4096)
MOUNTINFO = Path("/proc/self/mountinfo")

#: visit(dir_fd, name, rel, st) -> descend into this directory?
Visit = Callable[[int, str, str, os.stat_result], bool]
#: leave(parent_fd, name, rel): after the entries of a directory (the top excluded)
Leave = Callable[[int, str, str], None]


@dataclass
class _Frame:
    fd: int
    ident: tuple[int, int]
    pending: list[str]
    name: str
    rel: str


@dataclass
class WalkErrors:
    """OS errors met during a walk; the walk goes on past each of them."""

    errors: list[OSError] = field(default_factory=list)

    def raise_first(self) -> None:
        if self.errors:
            raise self.errors[0]


def _unescape(field_text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    if "\\" not in field_text:
        return field_text
    raw = field_text.encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and raw[i + 1 : i + 4].isdigit() and i + 4 <= len(raw):
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return os.fsdecode(bytes(out))


def mounts_under(top: Path, mountinfo: str | None = None) -> list[str]:
    """Mount points at or below `top` (resolved), deepest first."""
    if mountinfo is None:
        try:
            mountinfo = MOUNTINFO.read_text(errors="surrogateescape")
        except OSError:
            return []
    base = os.path.realpath(top)
    prefix = base.rstrip("/") + "/"
    found = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = _unescape(fields[4])
        if point == base or point.startswith(prefix):
            found.append(point)
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


def detach(target: str) -> int:
    """Lazily unmount `target`; 0 or the errno (EINVAL: not a mount point)."""
    import ctypes  # only when there is a mount to detach: ~3 ms to import
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        return ctypes.get_errno()
    return 0


def detach_mounts_under(top: Path) -> list[str]:
    """Detach every mount at or below `top` (stacked ones too); return what was detached."""
    detached: list[str] = []
    for _round in range(8):  # mounts stacked on one point come off one per round
        points = mounts_under(top)
        if not points:
            break
        progress = False
        for point in points:
            if detach(point) == 0:
                detached.append(point)
                progress = True
        if not progress:
            break
    return detached


def _ident(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _open_child(name: str, dir_fd: int, expected: tuple[int, int]) -> int:
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    if _ident(os.fstat(fd)) != expected:
        os.close(fd)
        raise OSError(errno.ESTALE, "directory replaced during the walk", name)
    return fd


def walk(
    top: Path,
    visit: Visit,
    leave: Leave | None = None,
    errors: WalkErrors | None = None,
    *,
    cross_mounts: bool = False,
) -> None:
    """Depth first below `top`: `visit` each entry, `leave` each directory after its entries.

    Directories on another device than `top` (mounts) are not entered unless
    `cross_mounts`. An OS error on one entry is recorded in `errors` (raised
    at once when None) and the walk goes on with the next.
    """
    fd = os.open(top, _DIR_FLAGS)
    top_st = os.fstat(fd)
    try:
        names = os.listdir(fd)
    except OSError:
        os.close(fd)
        raise
    stack = [_Frame(fd, _ident(top_st), names, "", "")]
    try:
        while stack:
            frame = stack[-1]
            if frame.pending:
                name = frame.pending.pop()
                rel = f"{frame.rel}/{name}" if frame.rel else name
                try:
                    st = os.stat(name, dir_fd=frame.fd, follow_symlinks=False)
                    if not visit(frame.fd, name, rel, st) or not stat.S_ISDIR(st.st_mode):
                        continue
                    if st.st_dev != top_st.st_dev and not cross_mounts:
                        raise OSError(errno.EBUSY, "a mount point", rel)
                    child = _open_child(name, frame.fd, _ident(st))
                    try:
                        names = os.listdir(child)
                    except OSError:
                        os.close(child)
                        raise
                except OSError as error:
                    if errors is None:
                        raise
                    errors.errors.append(error)
                    continue
                os.close(frame.fd)
                frame.fd = -1
                stack.append(_Frame(child, _ident(st), names, name, rel))
                continue
            stack.pop()
            if not stack:
                os.close(frame.fd)
                frame.fd = -1
                break
            parent = stack[-1]
            try:
                parent.fd = _open_child("..", frame.fd, parent.ident)
            finally:
                os.close(frame.fd)
                frame.fd = -1
            if leave is not None:
                try:
                    leave(parent.fd, frame.name, frame.rel)
                except OSError as error:
                    if errors is None:
                        raise
                    errors.errors.append(error)
    finally:
        for frame in stack:
            if frame.fd >= 0:
                os.close(frame.fd)


def open_below(dir_fd: int, rel: str, flags: int) -> int:
    """Open `rel` (a relative path of any length) below the directory `dir_fd`.

    A path that fits in PATH_MAX is opened with one `openat`; a longer one is
    cut at slashes into pieces that fit, each but the last opened as a
    directory (O_NOFOLLOW on its last component) from the one before.
    """
    if len(rel) < _PATH_PIECE // 4:
        return os.open(rel, flags, dir_fd=dir_fd)
    rest = os.fsencode(rel)
    fd = dir_fd
    try:
        while len(rest) >= _PATH_PIECE:
            cut = rest.rfind(b"/", 0, _PATH_PIECE)
            if cut <= 0:
                raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), rel)
            step = os.open(rest[:cut], _DIR_FLAGS, dir_fd=fd)
            if fd != dir_fd:
                os.close(fd)
            fd, rest = step, rest[cut + 1 :]
        return os.open(rest, flags, dir_fd=fd)
    finally:
        if fd != dir_fd:
            os.close(fd)


def _make_owner_rwx(path: str | Path, mode: int, dir_fd: int | None = None) -> None:
    if mode & stat.S_IRWXU != stat.S_IRWXU:
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(mode) | stat.S_IRWXU, dir_fd=dir_fd)


def remove_at(dir_fd: int, name: str) -> None:
    """Delete `name` in the directory `dir_fd`, a tree of any depth (never followed).

    Unlike `remove_tree`, mounts are not detached: a mount below is an error.
    """
    remove_tree(Path(f"/proc/self/fd/{dir_fd}") / name, detach=False)


def remove_tree(path: Path, *, ignore_errors: bool = False, detach: bool = True) -> None:
    """Delete `path` and everything below it: any depth, read-only dirs, mounts below it.

    Mounts at or below `path` are detached first (unless not `detach`).
    Errors are raised (the first one, after trying everything else) unless
    `ignore_errors`.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError:
        if ignore_errors:
            return
        raise
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            if not ignore_errors:
                raise
        return
    if detach:
        detach_mounts_under(path)
    try:
        _make_owner_rwx(path, os.lstat(path).st_mode)
    except FileNotFoundError:
        return  # removed meanwhile: another process cleaning up the same leftovers
    except OSError:
        if not ignore_errors:
            raise
    errors = WalkErrors()

    def visit(dir_fd: int, name: str, _rel: str, entry: os.stat_result) -> bool:
        if stat.S_ISDIR(entry.st_mode):
            _make_owner_rwx(name, entry.st_mode, dir_fd)
            return True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        return False

    def leave(parent_fd: int, name: str, _rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(name, dir_fd=parent_fd)

    try:
        walk(path, visit, leave, errors)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(path)
    except OSError as error:
        errors.errors.append(error)
    # what another process removed first is gone all the same
    errors.errors = [e for e in errors.errors if not isinstance(e, FileNotFoundError)]
    if not ignore_errors:
        errors.raise_first()


def tree_size(path: Path) -> int:
    """Apparent size of the files under `path` (hard links counted once); races tolerated."""
    total = 0
    seen: set[tuple[int, int]] = set()

    def visit(_fd: int, _name: str, _rel: str, st: os.stat_result) -> bool:
        nonlocal total
        if stat.S_ISDIR(st.st_mode):
            return True
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in seen:
                return False
            seen.add(key)
        total += st.st_size
        return False

    with contextlib.suppress(OSError):
        walk(path, visit, None, WalkErrors())
    return total
