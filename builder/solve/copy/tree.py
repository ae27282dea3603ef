"""Copy entries and directory trees from a source root into a destination root.

What fsutil's `copy.Copy` does for BuildKit, with directory fds on both
sides (nothing is followed, nothing escapes either root):

- files are copied with their content, mode and times; symlinks are copied
  as symlinks (their target string untouched); devices and FIFOs are made
  again (sockets are skipped); files hard-linked to each other inside one
  copied source stay hard-linked;
- owner: `--chown` when given, else 0:0 for the build context, else the
  source's owner (another stage); `--chmod` replaces the mode of files and
  directories (never of symlinks);
- an existing directory at a directory's place is merged into (and takes
  the source directory's owner, mode and times, except the directory the
  copy goes *into*); an existing file or symlink is replaced; a directory
  where a file goes, or a non-directory where a directory goes, is an error;
- a directory's times are set after everything inside it is written.

Which entries are copied is decided by an `EntryFilter`: entries can be
taken, skipped, or (for a directory) entered without being made yet: such
a directory is made only when something below it is taken (how .dockerignore
exceptions, `--exclude` exceptions and `--parents` patterns behave).
"""

from __future__ import annotations

import enum
import errno
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from builder.errors import BuildError
from builder.solve.copy.chmod import ChmodSpec
from builder.solve.copy.dest import DestRoot, container_path, lstat_at
from builder.solve.copy.rootdir import DIR_FLAGS

__all__ = ["Decision", "EntryFilter", "MetadataPolicy", "TreeWriter", "take_everything"]

_FILE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CHUNK: Final = 1 << 30  # bytes per copy_file_range call
_SKIPPED_XATTRS: Final = ("trusted.overlay.", "user.overlay.")


class Decision(enum.Enum):
    TAKE = "take"
    SKIP = "skip"
    ENTER = "enter"  #: a directory: look inside, make it only if something below is taken


#: (path below the copied source, path in the source root, is a directory) -> Decision
EntryFilter = Callable[[str, str, bool], Decision]


def take_everything(_below: str, _rel: str, _is_dir: bool) -> Decision:
    return Decision.TAKE


@dataclass(frozen=True)
class MetadataPolicy:
    """How the owner, mode and times of copied entries are decided."""

    owner: tuple[int, int] | None = None  #: --chown (uid, gid)
    reset_owner: bool = True  #: no --chown: 0:0 (build context) rather than the source's
    chmod: ChmodSpec | None = None
    copy_xattrs: bool = False
    timestamp_ns: int | None = None  #: fixed atime/mtime (SOURCE_DATE_EPOCH); None: the source's

    def ids(self, st: os.stat_result) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        return (0, 0) if self.reset_owner else (st.st_uid, st.st_gid)

    def mode(self, st: os.stat_result) -> int:
        bits = stat.S_IMODE(st.st_mode)
        if self.chmod is None:
            return bits
        return self.chmod.apply(bits, is_dir=stat.S_ISDIR(st.st_mode))

    def times(self, st: os.stat_result) -> tuple[int, int]:
        if self.timestamp_ns is not None:
            return self.timestamp_ns, self.timestamp_ns
        return st.st_atime_ns, st.st_mtime_ns


@dataclass
class _Frame:
    """A source directory being copied, and where it goes."""

    src_fd: int
    st: os.stat_result
    below: str  #: path below the copied source ("" for the top)
    rel: str  #: path in the source root
    dst_parts: tuple[str, ...]
    dst_fd: int | None  #: None while the directory is not made yet
    names: list[str]  #: children still to visit, last first
    set_metadata: bool  #: give it the source's metadata when done


@dataclass
class TreeWriter:
    """Writes into one destination root with one metadata policy; counts what it wrote."""

    dest: DestRoot
    policy: MetadataPolicy
    files: int = 0
    bytes: int = 0
    #: (dev, inode) of multiply-linked source files -> where their first copy went
    _links: dict[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)

    def start_source(self) -> None:
        """Forget hard links seen so far: they are kept within one source only (fsutil)."""
        self._links.clear()

    # ---------------------------------------------------------------- entry points

    def copy_entry(
        self,
        src_dir_fd: int,
        name: str,
        st: os.stat_result,
        dst_parts: tuple[str, ...],
    ) -> None:
        """Copy the non-directory `name` of `src_dir_fd` to `dst_parts` (replacing it)."""
        dst_fd = self.dest.open_dir(dst_parts[:-1])
        try:
            self._write_leaf(src_dir_fd, name, st, dst_fd, dst_parts)
        finally:
            os.close(dst_fd)

    def copy_tree(
        self,
        src_fd: int,
        st: os.stat_result,
        rel: str,
        dst_parts: tuple[str, ...],
        *,
        create: bool,
        entry_filter: EntryFilter = take_everything,
    ) -> None:
        """Copy what the directory `src_fd` holds into the directory at `dst_parts`.

        With `create`, the destination directory is made (and then gets the
        source directory's metadata) or merged into; without, it must exist.
        An existing top directory keeps its own metadata. `src_fd` stays open.
        """
        created = False
        if create:
            parent_fd = self.dest.open_dir(dst_parts[:-1])
            try:
                dst_fd, created = self._make_dir(parent_fd, dst_parts)
            finally:
                os.close(parent_fd)
        else:
            dst_fd = self.dest.open_dir(dst_parts)
        top_src = os.dup(src_fd)
        stack = [_Frame(top_src, st, "", rel, dst_parts, dst_fd, [], created)]
        try:
            stack[0].names = _children(top_src)
            self._run(stack, entry_filter)
        except OSError as exc:
            raise BuildError(f"cannot copy /{rel}: {exc.strerror or exc}") from None
        finally:
            for frame in stack:
                _close_frame(frame)

    # ---------------------------------------------------------------- the walk

    def _run(self, stack: list[_Frame], entry_filter: EntryFilter) -> None:
        while stack:
            frame = stack[-1]
            if not frame.names:
                stack.pop()
                try:
                    if frame.dst_fd is not None and frame.set_metadata:
                        self._set_metadata(frame.dst_fd, frame.src_fd, frame.st, frame.dst_parts)
                finally:
                    _close_frame(frame)
                continue
            name = frame.names.pop()
            try:
                st = os.lstat(name, dir_fd=frame.src_fd)
            except FileNotFoundError:
                continue  # gone since the directory was listed
            below = f"{frame.below}/{name}" if frame.below else name
            rel = f"{frame.rel}/{name}" if frame.rel else name
            is_dir = stat.S_ISDIR(st.st_mode)
            decision = entry_filter(below, rel, is_dir)
            if decision is Decision.SKIP or (decision is Decision.ENTER and not is_dir):
                continue
            dst_parts = (*frame.dst_parts, name)
            if not is_dir:
                self._make_pending(stack)
                assert frame.dst_fd is not None
                self._write_leaf(frame.src_fd, name, st, frame.dst_fd, dst_parts)
                continue
            child_fd = os.open(name, DIR_FLAGS, dir_fd=frame.src_fd)
            child = _Frame(child_fd, st, below, rel, dst_parts, None, [], True)
            stack.append(child)
            try:
                child.names = _children(child_fd)
            except OSError as exc:
                raise BuildError(f"cannot read /{rel}: {exc.strerror or exc}") from None
            if decision is Decision.TAKE:
                self._make_pending(stack)

    def _make_pending(self, stack: list[_Frame]) -> None:
        """Make the directories of `stack` that were entered but not made yet."""
        for index, frame in enumerate(stack):
            if frame.dst_fd is None:
                parent = stack[index - 1].dst_fd
                assert parent is not None
                frame.dst_fd, _ = self._make_dir(parent, frame.dst_parts)

    def _make_dir(self, parent_fd: int, dst_parts: tuple[str, ...]) -> tuple[int, bool]:
        """An fd of the directory `dst_parts` (made if missing), and whether it was made."""
        name = dst_parts[-1]
        existing = lstat_at(parent_fd, name)
        if existing is None:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        elif not stat.S_ISDIR(existing.st_mode):
            raise BuildError(
                f"cannot copy a directory to {container_path(dst_parts)}: a file is there",
                hint="an earlier step left a file (or a symlink) where the copy needs a directory",
            )
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd), existing is None

    # ---------------------------------------------------------------- leaves

    def _write_leaf(
        self,
        src_dir_fd: int,
        name: str,
        st: os.stat_result,
        dst_fd: int,
        dst_parts: tuple[str, ...],
    ) -> None:
        target = dst_parts[-1]
        existing = lstat_at(dst_fd, target)
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                raise BuildError(
                    f"cannot replace the directory {container_path(dst_parts)} with a file",
                    hint="copy into the directory instead: end the destination with '/'",
                )
            os.unlink(target, dir_fd=dst_fd)
        mode = st.st_mode
        try:
            if stat.S_ISREG(mode):
                self._write_file(src_dir_fd, name, st, dst_fd, dst_parts)
            elif stat.S_ISLNK(mode):
                os.symlink(os.readlink(name, dir_fd=src_dir_fd), target, dir_fd=dst_fd)
                self._set_name_metadata(dst_fd, target, st, symlink=True)
            elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                os.mknod(target, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst_fd)
                self._set_name_metadata(dst_fd, target, st, symlink=False)
            # sockets are not copied (nothing can be restored from them)
        except OSError as exc:
            raise BuildError(
                f"cannot write {container_path(dst_parts)}: {exc.strerror or exc}"
            ) from None

    def _write_file(
        self,
        src_dir_fd: int,
        name: str,
        st: os.stat_result,
        dst_fd: int,
        dst_parts: tuple[str, ...],
    ) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self._links.get(key)
            if first is not None and self._link(first, dst_fd, dst_parts[-1]):
                return
            self._links[key] = dst_parts
        src = os.open(name, _READ_FLAGS, dir_fd=src_dir_fd)
        try:
            if not stat.S_ISREG(os.fstat(src).st_mode):
                raise BuildError(f"{name!r} changed while it was copied")
            dst = os.open(dst_parts[-1], _FILE_FLAGS, 0o600, dir_fd=dst_fd)
            try:
                self.bytes += _copy_data(src, dst)
                self._set_metadata(dst, src, st, dst_parts)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        self.files += 1

    def _link(self, first: tuple[str, ...], dst_fd: int, name: str) -> bool:
        """Hard-link `name` to the copy made at `first`; False if that copy is gone."""
        try:
            first_dir = self.dest.open_dir(first[:-1])
        except BuildError:
            return False
        try:
            os.link(first[-1], name, src_dir_fd=first_dir, dst_dir_fd=dst_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        finally:
            os.close(first_dir)
        return True

    # ---------------------------------------------------------------- metadata

    def _set_metadata(
        self, dst_fd: int, src_fd: int, st: os.stat_result, dst_parts: tuple[str, ...]
    ) -> None:
        policy = self.policy
        try:
            if self.dest.is_root_user:
                os.fchown(dst_fd, *policy.ids(st))
            if policy.copy_xattrs:
                _copy_xattrs(src_fd, dst_fd)
            os.fchmod(dst_fd, policy.mode(st))  # after chown, which clears setuid/setgid
            os.utime(dst_fd, ns=policy.times(st))
        except OSError as exc:
            raise BuildError(
                f"cannot set the owner, mode or times of {container_path(dst_parts)}: "
                f"{exc.strerror or exc}"
            ) from None

    def _set_name_metadata(
        self, dst_fd: int, name: str, st: os.stat_result, *, symlink: bool
    ) -> None:
        """Metadata of a symlink, device or FIFO, which cannot be opened for it."""
        policy = self.policy
        if self.dest.is_root_user:
            os.chown(name, *policy.ids(st), dir_fd=dst_fd, follow_symlinks=False)
        if not symlink:
            os.chmod(name, policy.mode(st), dir_fd=dst_fd)
        os.utime(name, ns=policy.times(st), dir_fd=dst_fd, follow_symlinks=False)


def _children(fd: int) -> list[str]:
    """Names in the directory `fd`, sorted bytewise as Go does, last first (for pop)."""
    return sorted(os.listdir(fd), key=os.fsencode, reverse=True)


def _close_frame(frame: _Frame) -> None:
    if frame.src_fd >= 0:
        os.close(frame.src_fd)
        frame.src_fd = -1
    if frame.dst_fd is not None:
        os.close(frame.dst_fd)
        frame.dst_fd = None


def _copy_data(src: int, dst: int) -> int:
    """Copy all of `src` into `dst` (in-kernel when the filesystems allow); bytes copied."""
    total = 0
    try:
        while True:
            copied = os.copy_file_range(src, dst, _CHUNK)
            if copied == 0:
                return total
            total += copied
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    with os.fdopen(os.dup(src), "rb") as reader, os.fdopen(os.dup(dst), "wb") as writer:
        reader.seek(total)
        writer.seek(total)
        shutil.copyfileobj(reader, writer, 1 << 20)
        total = writer.tell()
    return total


def _copy_xattrs(src_fd: int, dst_fd: int) -> None:
    """Extended attributes of another stage's files (file capabilities...), best effort."""
    try:
        names = os.listxattr(src_fd)
    except OSError:
        return
    for key in names:
        if key.startswith(_SKIPPED_XATTRS):
            continue
        try:
            os.setxattr(dst_fd, key, os.getxattr(src_fd, key))
        except OSError:
            continue  # the destination refuses it: BuildKit logs and goes on
