"""USER resolution against the image's /etc/passwd and /etc/group, with Docker's rules.

The rules are those of `GetExecUser` in moby/sys `user` (used by runc, Docker
and BuildKit):

- `""` is uid 0; `user`, `uid`, `user:group`, `uid:gid`, `uid:group`, `user:gid`.
- A name must be in /etc/passwd (else "unable to find user NAME: no matching
  entries in passwd file"); a numeric uid need not be, its gid is then 0.
- A numeric argument matches by id only, a name by name only; the first
  matching line wins.
- Supplementary groups are the groups of /etc/group that list the user's name
  as a member, and only when no group was given (`user:group` sets the gid and
  no supplementary groups).

Differences, on purpose: lines whose uid or gid is not a number are skipped
(Go reads them as 0, which would turn a broken line into root), and a file
larger than 10 MiB is an error rather than a silent truncation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError
from builder.runtime.rootpath import read_file_in_root

MAX_USER_FILE_BYTES = 10 << 20  # moby/sys `user` reads at most this much
MAX_ID = (1 << 31) - 1  # uids and gids must fit in 31 bits, as in runc and Docker


@dataclass(frozen=True)
class ResolvedUser:
    """The identity a container process runs as."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"
    name: str = ""  # the /etc/passwd name, "" for a uid that has none


@dataclass(frozen=True)
class _PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _GroupEntry:
    name: str
    gid: int
    members: tuple[str, ...]


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _argument_id(text: str) -> int | None:
    """A numeric USER/group argument (Go's Atoi syntax: an optional sign), range-checked.

    None for a name.
    """
    digits = text[1:] if text[:1] in "+-" else text
    if _number(digits) is None:
        return None
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise BuildError(f"uids and gids must be in range 0-{MAX_ID}: {text}")
    return value


def _lines(data: bytes | None) -> list[list[str]]:
    if data is None:
        return []
    text = data.decode("utf-8", errors="surrogateescape")
    rows = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _parse_passwd(data: bytes | None) -> list[_PasswdEntry]:
    entries = []
    for fields in _lines(data):
        if len(fields) < 4:
            continue
        uid, gid = _number(fields[2]), _number(fields[3])
        if uid is None or gid is None:
            continue
        home = fields[5] if len(fields) > 5 else ""
        entries.append(_PasswdEntry(fields[0], uid, gid, home))
    return entries


def _parse_group(data: bytes | None) -> list[_GroupEntry]:
    entries = []
    for fields in _lines(data):
        if len(fields) < 3:
            continue
        gid = _number(fields[2])
        if gid is None:
            continue
        members = tuple(fields[3].split(",")) if len(fields) > 3 and fields[3] else ()
        entries.append(_GroupEntry(fields[0], gid, members))
    return entries


def _read_user_file(rootfs: Path, path: str) -> bytes | None:
    data = read_file_in_root(rootfs, path, MAX_USER_FILE_BYTES)
    if data is not None and len(data) > MAX_USER_FILE_BYTES:
        raise BuildError(
            f"{path} in the image is larger than {MAX_USER_FILE_BYTES >> 20} MiB",
            hint="an earlier step wrote a broken user database; fix or remove it",
        )
    return data


def resolve_user(rootfs: Path, user: str) -> ResolvedUser:
    """Resolve a Dockerfile USER value against the files of `rootfs`.

    Raises BuildError when a user or group name is unknown or an id is out of range.
    """
    user_part, _, group_part = user.partition(":")
    uid_arg = _argument_id(user_part) if user_part else None
    gid_arg = _argument_id(group_part) if group_part else None
    passwd = _parse_passwd(_read_user_file(rootfs, "/etc/passwd"))

    if not user_part:
        matches = [e for e in passwd if e.uid == 0]
    elif uid_arg is not None:
        matches = [e for e in passwd if e.uid == uid_arg]
    else:
        matches = [e for e in passwd if e.name == user_part]

    if matches:
        entry = matches[0]
        uid, gid, home, name = entry.uid, entry.gid, entry.home or "/", entry.name
    elif user_part and uid_arg is None:
        raise BuildError(
            f"unable to find user {user_part}: no matching entries in passwd file",
            hint="create the user in an earlier step (useradd/adduser) or use a numeric uid",
        )
    else:
        uid, gid, home, name = uid_arg or 0, 0, "/", ""

    additional: list[int] = []
    if group_part or name:
        groups = _parse_group(_read_user_file(rootfs, "/etc/group"))
        if group_part:
            if gid_arg is not None:
                gid = gid_arg
            else:
                named = [g for g in groups if g.name == group_part]
                if not named:
                    raise BuildError(
                        f"unable to find group {group_part}: no matching entries in group file",
                        hint="create the group in an earlier step (groupadd/addgroup) "
                        "or use a numeric gid",
                    )
                gid = named[0].gid
        else:
            for group in groups:
                if name in group.members and group.gid not in additional:
                    additional.append(group.gid)
    return ResolvedUser(uid=uid, gid=gid, additional_gids=tuple(additional), home=home, name=name)
