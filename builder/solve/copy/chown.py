"""`COPY --chown` / `ADD --chown`: the owner of what is written, as BuildKit resolves it.

Names are looked up in the /etc/passwd and /etc/group of the *destination*
root (symlinks resolved inside it, see `builder.runtime.rootpath`):

- `user` (a name): the uid and the primary gid of its passwd line;
- `1000` (a number): uid 1000 **and gid 1000** (BuildKit's rule for COPY,
  unlike USER where a lone uid gets gid 0);
- `user:group`, `1000:1000`, `user:50`, `1000:group`: the group part sets the gid.

Difference, on purpose: BuildKit quietly uses 0 when a name is not found;
here an unknown user or group is an error that names it.
"""

from __future__ import annotations

from pathlib import Path

from builder.errors import BuildError
from builder.runtime.users import MAX_ID, resolve_user

__all__ = ["resolve_chown"]


def _numeric_id(text: str, spec: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    if value > MAX_ID:
        raise BuildError(f"invalid --chown={spec}: ids must be in range 0-{MAX_ID}")
    return value


def resolve_chown(rootfs: Path, spec: str) -> tuple[int, int]:
    """(uid, gid) for a `--chown` value, names resolved in `rootfs`."""
    try:
        return _resolve(rootfs, spec)
    except BuildError as exc:
        if exc.message.startswith("invalid --chown"):
            raise
        raise BuildError(f"--chown={spec}: {exc.message}", hint=exc.hint) from None


def _resolve(rootfs: Path, spec: str) -> tuple[int, int]:
    user, has_group, group = spec.partition(":")
    if has_group and not group:
        raise BuildError(f"invalid --chown={spec}: the group after ':' is empty")
    uid_number = _numeric_id(user, spec)
    if uid_number is not None:
        uid, gid = uid_number, uid_number
    elif user:
        resolved = resolve_user(rootfs, user)
        uid, gid = resolved.uid, resolved.gid
    else:
        uid = gid = 0
    if has_group:
        gid_number = _numeric_id(group, spec)
        gid = gid_number if gid_number is not None else resolve_user(rootfs, f"0:{group}").gid
    return uid, gid
