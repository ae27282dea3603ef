"""What a RUN step's mounts read, for its cache key: secret and ssh ids, context paths.

Kept apart from `mounts.run` so that computing a key (a cached build does it
for every RUN) does not load the mount machinery.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from builder.dockerfile.mounts import Mount as MountFlag


def rooted(path: str) -> str:
    """`path` cleaned as an absolute path: `a/../b` is `/b`, `../x` is `/x`."""
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def secret_id(flag: MountFlag) -> str:
    return flag.source or flag.id or posixpath.basename(flag.target or "")


def secret_ids(mounts: Sequence[MountFlag]) -> list[str]:
    """The ids of the secrets the step mounts, in order."""
    return [secret_id(m) for m in mounts if m.type == "secret"]


def ssh_ids(mounts: Sequence[MountFlag]) -> list[str]:
    """The ids of the ssh agents the step mounts, in order."""
    return [m.id or "default" for m in mounts if m.type == "ssh"]


def context_paths(mounts: Sequence[MountFlag]) -> list[str]:
    """Build-context paths ("/" rooted) that the step's bind mounts read: hash them in its key.

    Mounts with `from=` depend on that stage or image instead.
    """
    return [rooted(m.source or "/") for m in mounts if m.type == "bind" and not m.from_]
