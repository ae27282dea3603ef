"""The change a step made: its overlay upper dir, trimmed to what really changed.

overlayfs copies a directory up as soon as anything beneath it is touched,
so the upper dir holds directories whose only change is their mtime: mount
points made for the container (`/etc` for `/etc/hosts`), parents of files
written then deleted. `prune_unchanged_dirs` removes those, so that such a
step adds no layer (containerd's diff service compares the same way:
metadata, not mtimes, for directories).
"""

from __future__ import annotations

import os
from pathlib import Path


def _lower_stat(lowers: list[Path], relpath: str) -> os.stat_result | None:
    for lower in reversed(lowers):
        try:
            return os.lstat(lower / relpath)
        except OSError:
            continue
    return None


def prune_unchanged_dirs(upper: Path, lowers: list[Path]) -> None:
    """Drop directories overlayfs copied up but the step did not change.

    An empty, non-opaque dir whose owner and mode equal the lower one's
    changed only its mtime, which is not worth a layer (and would make every
    RUN a layer).
    """
    for dirpath, _dirnames, filenames in os.walk(upper, topdown=False):
        if dirpath == str(upper) or filenames or os.listdir(dirpath):
            continue
        path = Path(dirpath)
        try:
            if os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y":
                continue
        except OSError:
            pass
        lower = _lower_stat(lowers, os.path.relpath(path, upper))
        if lower is None:
            continue
        mine = os.lstat(path)
        if (lower.st_mode, lower.st_uid, lower.st_gid) == (mine.st_mode, mine.st_uid, mine.st_gid):
            os.rmdir(path)
