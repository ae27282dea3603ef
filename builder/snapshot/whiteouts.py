"""Whiteouts: OCI layer names (`.wh.NAME`, `.wh..wh..opq`) and their overlayfs forms.

In a layer tar, `D/.wh.NAME` deletes `D/NAME` of the lower layers and
`D/.wh..wh..opq` hides everything the lower layers have in `D`. Other
`.wh..wh.*` names are aufs bookkeeping and mean nothing. In an overlayfs
upper directory the same facts are a 0:0 character device at `D/NAME` and
the xattr `trusted.overlay.opaque=y` on `D`. In a user namespace (rootless
builds) overlayfs is mounted with `userxattr` and uses `user.overlay.opaque`
instead (`overlay_xattr_prefix`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from builder.errors import LayerError

__all__ = [
    "FUSE_OVERLAY_XATTR_PREFIX",
    "OPAQUE_MARKER",
    "OVERLAY_OPAQUE_XATTR",
    "OVERLAY_XATTR_PREFIX",
    "USER_OVERLAY_XATTR_PREFIX",
    "WHITEOUT_META_PREFIX",
    "WHITEOUT_PREFIX",
    "Whiteout",
    "is_aufs_metadata",
    "is_overlay_whiteout",
    "is_overlay_xattr",
    "opaque_xattr",
    "overlay_xattr_prefix",
    "parse_whiteout",
]

WHITEOUT_PREFIX: Final = ".wh."
WHITEOUT_META_PREFIX: Final = ".wh..wh."
OPAQUE_MARKER: Final = ".wh..wh..opq"
OVERLAY_XATTR_PREFIX: Final = "trusted.overlay."
OVERLAY_OPAQUE_XATTR: Final = "trusted.overlay.opaque"
USER_OVERLAY_XATTR_PREFIX: Final = "user.overlay."
#: fuse-overlayfs's own xattrs (its opaque mark in an upper dir)
FUSE_OVERLAY_XATTR_PREFIX: Final = "user.fuseoverlayfs."
_OVERLAY_PREFIXES: Final = (
    OVERLAY_XATTR_PREFIX,
    USER_OVERLAY_XATTR_PREFIX,
    FUSE_OVERLAY_XATTR_PREFIX,
)
_INITIAL_UID_MAP: Final = ["0", "0", "4294967295"]


def overlay_xattr_prefix() -> str:
    """The xattr namespace overlayfs uses in this process's mounts.

    `trusted.overlay.` needs CAP_SYS_ADMIN in the initial user namespace; in
    any other one (a rootless build) overlayfs is mounted with `userxattr`
    and uses `user.overlay.`.
    """
    try:
        uid_map = Path("/proc/self/uid_map").read_text().split()
    except OSError:
        return OVERLAY_XATTR_PREFIX
    return OVERLAY_XATTR_PREFIX if uid_map == _INITIAL_UID_MAP else USER_OVERLAY_XATTR_PREFIX


def opaque_xattr(prefix: str) -> str:
    """The opaque-directory xattr in overlayfs's namespace `prefix`."""
    return f"{prefix}opaque"


def is_overlay_xattr(key: str) -> bool:
    """True for overlayfs's (either namespace) and fuse-overlayfs's own xattrs.

    They are never copied into or out of a layer.
    """
    return key.startswith(_OVERLAY_PREFIXES)


@dataclass(frozen=True)
class Whiteout:
    """What a whiteout entry means: `name` in directory `parent` (both relative paths).

    `name` is None for an opaque marker: all of `parent` is hidden.
    """

    parent: str
    name: str | None

    @property
    def target(self) -> str:
        """The path the whiteout hides (the directory itself for an opaque marker)."""
        if self.name is None:
            return self.parent
        return f"{self.parent}/{self.name}" if self.parent else self.name


def is_aufs_metadata(path: str) -> bool:
    """True for aufs bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`, ... and what is below).

    Such entries mean nothing in an OCI layer and are skipped.
    """
    if WHITEOUT_META_PREFIX not in path:
        return False  # the common case, without splitting a deep path
    parent, _, base = path.rpartition("/")
    if base.startswith(WHITEOUT_META_PREFIX) and base != OPAQUE_MARKER:
        return True
    return any(part.startswith(WHITEOUT_META_PREFIX) for part in parent.split("/"))


def parse_whiteout(path: str) -> Whiteout | None:
    """The whiteout a normalised member path stands for, or None for an ordinary entry.

    Call `is_aufs_metadata` first. A whiteout of "", "." or ".." is an error.
    """
    parent, _, base = path.rpartition("/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == OPAQUE_MARKER:
        return Whiteout(parent, None)
    name = base[len(WHITEOUT_PREFIX) :]
    if name in ("", ".", "..") or name.startswith(WHITEOUT_META_PREFIX):
        raise LayerError(f"layer entry {path!r}: whiteout of {name!r} is not a file name")
    return Whiteout(parent, name)


def is_overlay_whiteout(st: os.stat_result) -> bool:
    """True for an overlayfs whiteout: a character device numbered 0:0."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
