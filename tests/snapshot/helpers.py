"""Tar building and tree comparison for the snapshot tests."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from builder.snapshot.apply import ApplyResult, apply_layer
from builder.snapshot.trees import open_below

T = 1_600_000_000  # the mtime of test entries


@dataclass
class Member:
    info: tarfile.TarInfo
    data: bytes | None = None


def _info(name: str, kind: bytes, mode: int, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = T
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def reg(name: str, data: bytes = b"", mode: int = 0o644, **fields: object) -> Member:
    info = _info(name, tarfile.REGTYPE, mode, **fields)
    info.size = len(data)
    return Member(info, data)


def dir_(name: str, mode: int = 0o755, **fields: object) -> Member:
    return Member(_info(name, tarfile.DIRTYPE, mode, **fields))


def sym(name: str, target: str, **fields: object) -> Member:
    return Member(_info(name, tarfile.SYMTYPE, 0o777, linkname=target, **fields))


def hard(name: str, target: str, **fields: object) -> Member:
    return Member(_info(name, tarfile.LNKTYPE, 0o644, linkname=target, **fields))


def dev(name: str, kind: bytes, major: int = 0, minor: int = 0, mode: int = 0o600) -> Member:
    return Member(_info(name, kind, mode, devmajor=major, devminor=minor))


def tar_bytes(*members: Member, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for member in members:
            tar.addfile(member.info, io.BytesIO(member.data) if member.data is not None else None)
    return buf.getvalue()


def apply_bytes(data: bytes, dest: Path, **kwargs: object) -> ApplyResult:
    return apply_layer(io.BytesIO(data), dest, **kwargs)  # type: ignore[arg-type]


def tree_state(
    root: Path, *, dir_mtimes: bool = True, seconds: bool = False
) -> dict[str, tuple[object, ...]]:
    """Everything a layer can carry about each path under root, for == comparisons.

    `seconds`: mtimes truncated to whole seconds (what a tar keeps).
    """
    state: dict[str, tuple[object, ...]] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                content = (os.major(st.st_rdev), os.minor(st.st_rdev))
            try:
                xattrs = {
                    k: os.getxattr(path, k, follow_symlinks=False)
                    for k in sorted(os.listxattr(path, follow_symlinks=False))
                }
            except OSError:
                xattrs = {}
            mtime: int | None = st.st_mtime_ns // 10**9 * 10**9 if seconds else st.st_mtime_ns
            if stat.S_ISDIR(st.st_mode) and not dir_mtimes:
                mtime = None
            state[rel] = (
                stat.S_IFMT(st.st_mode),
                oct(stat.S_IMODE(st.st_mode)),
                st.st_uid,
                st.st_gid,
                mtime,
                content,
                xattrs,
            )
    for paths in inodes.values():
        if len(paths) > 1:
            for rel in paths:
                state[rel] = (*state[rel], tuple(sorted(paths)))
    return state


def dir_state(root: Path) -> dict[str, tuple[object, ...]]:
    """A cheap fingerprint of a directory that must not change (the sentinel)."""
    state: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            data = Path(path).read_bytes() if stat.S_ISREG(st.st_mode) else None
            state[os.path.relpath(path, root)] = (
                st.st_mode,
                st.st_ino,
                st.st_nlink,
                st.st_mtime_ns,
                data,
            )
    return state


def set_mtime(path: Path, seconds: int) -> None:
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9), follow_symlinks=False)


def make_tree(root: Path, *, devices: bool = True) -> Path:
    """A tree with every kind of entry a layer carries, mtimes in whole seconds."""
    (root / "etc/ssh").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "empty").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin no\n")
    (root / "usr/bin/ping").write_bytes(os.urandom(3000))
    os.chmod(root / "usr/bin/ping", 0o4755)
    os.chmod(root / "tmp", 0o1777)
    os.chown(root / "etc/ssh", 100, 101)
    os.chown(root / "etc/ssh/sshd_config", 100, 101)
    os.link(root / "usr/bin/ping", root / "usr/bin/ping6")
    os.link(root / "etc/passwd", root / "a-hardlink")
    os.symlink("/usr/bin", root / "bin")
    os.symlink("../passwd", root / "etc/ssh/rel-link")
    os.setxattr(
        root / "usr/bin/ping",
        "security.capability",
        b"\x01\x00\x00\x02\x00\x20\x00\x00" + b"\x00" * 12,
    )
    os.setxattr(root / "etc/passwd", "user.binary", b"\x00\xff\xfe")
    os.setxattr(root / "etc", "trusted.dirattr", b"v")
    long_dir = root / ("long-" * 30)
    long_dir.mkdir()
    (long_dir / ("name-" * 30)).write_text("long")
    (root / "utf8-é-файл").write_text("unicode")
    (root / os.fsdecode(b"latin1-\xe9")).write_text("not utf-8")
    if devices:
        os.mknod(root / "null", 0o20666, os.makedev(1, 3))
        os.mkfifo(root / "fifo", 0o644)
    for n, (dirpath, dirnames, filenames) in enumerate(sorted(os.walk(root), reverse=True)):
        for name in filenames + dirnames:
            set_mtime(Path(dirpath) / name, T + n)
    return root


def read_below(top: Path, rel: str) -> bytes:
    """A file's bytes at any depth below `top` (its path may be longer than PATH_MAX)."""
    dir_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = open_below(dir_fd, rel, os.O_RDONLY | os.O_NOFOLLOW)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as file:
        return file.read()
