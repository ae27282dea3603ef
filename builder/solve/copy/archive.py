"""`ADD archive.tar.gz /dest/`: local tar archives are unpacked, not copied.

As BuildKit decides (`isArchivePath`): a regular file is an archive when,
once decompressed (gzip, bzip2, xz, zstd, or none, sniffed from its first
bytes, whatever its name), it starts with a valid tar header. Such a file is
unpacked into the destination, which is always a directory (`ADD a.tar /x`
fills `/x/`); a file that is not an archive is copied as usual.

The archive is hostile input: it is unpacked by `builder.snapshot.apply`
into an empty staging directory inside the destination, then moved into
place with renames: a directory over a directory merges (taking the
archive's owner, mode and times), anything else replaces what is there.
Owners come from the archive, or all become the `--chown` user; `--chmod`
does not apply to unpacked files (as in BuildKit).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Final

from builder.errors import BuildError, PybuildError
from builder.snapshot.apply import apply_layer
from builder.snapshot.compression import decompressing_reader
from builder.snapshot.trees import remove_at
from builder.solve.copy.dest import container_path, lstat_at
from builder.solve.copy.place import Transfer
from builder.solve.copy.rootdir import DIR_FLAGS
from builder.solve.copy.source import SourceMatch, SourceTree

__all__ = ["is_archive", "unpack_archive"]

_BLOCK: Final = tarfile.BLOCKSIZE
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def _open_source(tree: SourceTree, match: SourceMatch) -> BinaryIO:
    parent, _, name = match.path.rpartition("/")
    dir_fd = tree.open_dir(parent)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BuildError(f"ADD failed: {match.shown} is not a regular file")
    return os.fdopen(fd, "rb")


def is_archive(tree: SourceTree, match: SourceMatch) -> bool:
    """Is the regular file `match` a (possibly compressed) tar archive?"""
    if match.is_dir:
        return False
    st = tree.lstat(match.path)
    if st is None or not stat.S_ISREG(st.st_mode):
        return False
    with _open_source(tree, match) as raw:
        try:
            reader = decompressing_reader(raw, "auto", what=f"ADD source {match.shown}")
            try:
                block = reader.read(_BLOCK)
            finally:
                if reader is not raw:
                    reader.close()
        except Exception:  # anything unreadable is simply not an archive
            return False
    if len(block) < _BLOCK or not block.strip(b"\x00"):
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def unpack_archive(transfer: Transfer, tree: SourceTree, match: SourceMatch) -> None:
    """Unpack the archive `match` into the destination directory of `transfer`."""
    parts = transfer.ensure_dir(transfer.dest_path)
    dest_fd = transfer.dest.open_dir(parts)
    staging = f".pybuild-unpack-{secrets.token_hex(8)}"
    try:
        os.mkdir(staging, 0o700, dir_fd=dest_fd)
        try:
            staging_fd = os.open(staging, DIR_FLAGS, dir_fd=dest_fd)
            try:
                with _open_source(tree, match) as raw:
                    try:
                        apply_layer(
                            raw,
                            Path(f"/proc/self/fd/{staging_fd}"),
                            compression="auto",
                            whiteouts=False,  # an archive, not a layer: .wh.x is a file
                        )
                    except PybuildError as exc:
                        raise BuildError(
                            f"ADD failed: cannot unpack {match.shown}: {exc.message}",
                            hint=exc.hint,
                        ) from None
                owner = transfer.policy.owner
                if owner is not None and transfer.dest.is_root_user:
                    _chown_tree(staging_fd, owner)
                _merge(staging_fd, dest_fd, parts)
            finally:
                os.close(staging_fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                remove_at(dest_fd, staging)  # any depth, without recursion
    except OSError as exc:
        raise BuildError(
            f"ADD failed: cannot unpack {match.shown} into {container_path(parts)}: "
            f"{exc.strerror or exc}"
        ) from None
    finally:
        os.close(dest_fd)
    transfer.record(container_path(parts))


def _chown_tree(top_fd: int, owner: tuple[int, int]) -> None:
    """Give everything below `top_fd` to `owner`, keeping setuid/setgid bits."""
    pending = [os.dup(top_fd)]
    try:
        while pending:
            fd = pending.pop()
            try:
                for name in os.listdir(fd):
                    st = os.lstat(name, dir_fd=fd)
                    os.chown(name, *owner, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        pending.append(os.open(name, DIR_FLAGS, dir_fd=fd))
                    elif not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o6000:
                        os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=fd)
            finally:
                os.close(fd)
    finally:
        for fd in pending:
            os.close(fd)


def _merge(src_top: int, dst_top: int, dst_parts: tuple[str, ...]) -> None:
    """Move everything of the staging directory into the destination directory."""
    # (source dir fd, destination dir fd, destination parts, names left), both fds owned
    stack = [(os.dup(src_top), os.dup(dst_top), dst_parts, sorted(os.listdir(src_top)))]
    try:
        while stack:
            src_fd, dst_fd, parts, names = stack[-1]
            if not names:
                stack.pop()
                os.close(src_fd)
                os.close(dst_fd)
                if len(stack) > 0:
                    _adopt_dir_metadata(stack[-1][0], stack[-1][1], parts[-1])
                continue
            name = names.pop()
            st = os.lstat(name, dir_fd=src_fd)
            existing = lstat_at(dst_fd, name)
            if existing is not None and stat.S_ISDIR(existing.st_mode) and stat.S_ISDIR(st.st_mode):
                child_src = os.open(name, DIR_FLAGS, dir_fd=src_fd)
                try:
                    child_dst = os.open(name, DIR_FLAGS, dir_fd=dst_fd)
                except BaseException:
                    os.close(child_src)
                    raise
                stack.append((child_src, child_dst, (*parts, name), sorted(os.listdir(child_src))))
                continue
            if existing is not None:
                if stat.S_ISDIR(existing.st_mode):
                    remove_at(dst_fd, name)
                else:
                    os.unlink(name, dir_fd=dst_fd)
            os.rename(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    finally:
        for src_fd, dst_fd, _, _ in stack:
            os.close(src_fd)
            os.close(dst_fd)


def _adopt_dir_metadata(src_parent: int, dst_parent: int, name: str) -> None:
    """An existing directory merged into takes the archive directory's metadata."""
    st = os.lstat(name, dir_fd=src_parent)
    fd = os.open(name, DIR_FLAGS, dir_fd=dst_parent)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(fd)
