"""`RUN --mount=...` values: the typed mount, and its CSV parser (BuildKit's rules)."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from builder.dockerfile.flags import InvalidCommand, parse_go_bool, parse_ram_size, suggest


@dataclass(frozen=True, kw_only=True)
class Mount:
    """One `RUN --mount=...` (BuildKit's defaults applied)."""

    type: str = "bind"  #: bind, cache, tmpfs, secret, ssh
    target: str | None = None
    source: str | None = None
    from_: str | None = None  #: stage name, stage index or image
    readonly: bool = True
    id: str | None = None
    sharing: str | None = None  #: shared, private, locked (cache only)
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None  #: tmpfs size in bytes
    env: str | None = None  #: secret exposed as this environment variable
    raw: str = ""  #: the flag value as written


MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_MOUNT_KEYS = (
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
    "readwrite", "rw", "id", "sharing", "required", "mode", "uid", "gid", "size", "env",
)  # fmt: skip


def split_csv(line: str) -> list[str]:
    """One line of CSV the way Go's encoding/csv reads it (quotes only around a whole field)."""
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            i += 1
            parts = []
            while True:
                j = line.find('"', i)
                if j < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                parts.append(line[i:j])
                i = j + 1
                if i < n and line[i] == '"':
                    parts.append('"')
                    i += 1
                    continue
                break
            if i < n and line[i] != ",":
                raise ValueError('extraneous or missing " in quoted-field')
            fields.append("".join(parts))
        else:
            end = line.find(",", i)
            end = n if end < 0 else end
            if '"' in line[i:end]:
                raise ValueError('bare " in non-quoted field')
            fields.append(line[i:end])
            i = end
        if i >= n:
            return fields
        i += 1


def parse_mount(value: str, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one `--mount` CSV value like BuildKit.

    With `expand` each value is expanded first. Without it (parse time),
    values holding a `$` are kept as written and checked later, once
    expanded; `from` may never hold a variable.
    """
    try:
        fields_ = split_csv(value)
    except ValueError as exc:
        raise InvalidCommand(f"failed to parse csv mounts: {exc}") from None
    m: dict[str, object] = {"type": "bind", "readonly": True, "required": False}
    ro_auto = True
    deferred: set[str] = set()
    for item in fields_:
        key, eq, val = item.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                m["readonly"], ro_auto = True, False
                continue
            if key in ("readwrite", "rw"):
                m["readonly"], ro_auto = False, False
                continue
            if key == "required":
                if m["type"] not in ("secret", "ssh"):
                    raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
                m["required"] = True
                continue
            raise InvalidCommand(f"invalid field '{item}' must be a key=value pair")
        if key == "from" and re.search(r"\$.", val):
            raise InvalidCommand(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        if expand is not None:
            val = expand(val)
        elif "$" in val:
            deferred.add(key)
            _store_deferred(m, key, val)
            continue
        ro_auto = _apply_mount_key(m, key, val, item, ro_auto)
    return _finish_mount(m, ro_auto, deferred, value)


def _store_deferred(m: dict[str, object], key: str, val: str) -> None:
    aliases = {"src": "source", "dst": "target", "destination": "target", "from": "from_"}
    name = aliases.get(key, key)
    if name in ("source", "target", "from_", "id", "env"):
        m[name] = val


def _apply_mount_key(m: dict[str, object], key: str, val: str, item: str, ro_auto: bool) -> bool:
    if key == "type":
        if val.lower() not in MOUNT_TYPES:
            raise InvalidCommand(
                f'unsupported mount type "{val}"', suggest(val.lower(), MOUNT_TYPES)
            )
        m["type"] = val.lower()
    elif key == "from":
        m["from_"] = val
    elif key in ("source", "src"):
        m["source"] = val
    elif key in ("target", "dst", "destination"):
        m["target"] = val
    elif key in ("readonly", "ro", "readwrite", "rw"):
        flag = parse_go_bool(val)
        if flag is None:
            raise InvalidCommand(f"invalid value for {key}: {val}")
        m["readonly"] = flag if key in ("readonly", "ro") else not flag
        return False
    elif key == "required":
        if m["type"] not in ("secret", "ssh"):
            raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
        flag = parse_go_bool(val)
        if flag is None:
            raise InvalidCommand(f"invalid value for {key}: {val}")
        m["required"] = flag
    elif key == "id":
        m["id"] = val
    elif key == "sharing":
        if val.lower() not in SHARING_MODES:
            raise InvalidCommand(f'unsupported sharing value "{val}"')
        m["sharing"] = val.lower()
    elif key == "mode":
        if not re.fullmatch(r"[0-7]+", val) or int(val, 8) >= 1 << 32:
            raise InvalidCommand(f"invalid value {val} for mode")
        m["mode"] = int(val, 8)
    elif key in ("uid", "gid"):
        if not re.fullmatch(r"[0-9]+", val) or int(val) >= 1 << 32:
            raise InvalidCommand(f"invalid value {val} for {key}")
        m[key] = int(val)
    elif key == "size":
        if m["type"] != "tmpfs":
            raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
        try:
            m["size"] = parse_ram_size(val)
        except ValueError as exc:
            raise InvalidCommand(str(exc)) from None
    elif key == "env":
        m["env"] = val
    else:
        raise InvalidCommand(f"unexpected key '{key}' in '{item}'", suggest(key, _MOUNT_KEYS))
    return ro_auto


def _finish_mount(m: dict[str, object], ro_auto: bool, deferred: set[str], raw: str) -> Mount:
    mtype = str(m["type"])
    file_info = mtype in ("secret", "ssh", "cache")
    for key in ("mode", "uid", "gid"):
        if m.get(key) is not None and not file_info:
            raise InvalidCommand(f'{key} not allowed for "{mtype}" type mounts')
    if ro_auto:
        m["readonly"] = mtype not in ("cache", "tmpfs")
    if m.get("sharing") is not None and mtype != "cache":
        raise InvalidCommand(f"invalid cache sharing set for {mtype} mount")
    if m.get("env") is not None and mtype != "secret":
        raise InvalidCommand(f"unexpected key 'env' for mount type '{mtype}'")
    if mtype == "secret":
        if m.get("from_") is not None:
            raise InvalidCommand("secret mount should not have a from")
        if not (m.get("source") or m.get("target") or m.get("id") or m.get("env")):
            raise InvalidCommand("invalid secret mount. one of source, target required")
        if m.get("source") and m.get("id"):
            raise InvalidCommand("both source and id can't be set")
    needs_target = mtype in ("bind", "cache", "tmpfs") and not (
        deferred & {"target", "dst", "destination"}
    )
    if needs_target and not m.get("target"):
        raise InvalidCommand(f'mount type "{mtype}" requires a target (target=/path)')
    return Mount(
        type=mtype,
        target=_opt_str(m.get("target")),
        source=_opt_str(m.get("source")),
        from_=_opt_str(m.get("from_")),
        readonly=bool(m["readonly"]),
        id=_opt_str(m.get("id")),
        sharing=_opt_str(m.get("sharing")),
        mode=_opt_int(m.get("mode")),
        uid=_opt_int(m.get("uid")),
        gid=_opt_int(m.get("gid")),
        required=bool(m["required"]),
        size=_opt_int(m.get("size")),
        env=_opt_str(m.get("env")),
        raw=raw,
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def expand_mount(mount: Mount, expand: Callable[[str], str]) -> Mount:
    """`mount` with every value expanded and checked again; its `raw` is the expanded CSV."""
    expanded = parse_mount(mount.raw, expand)
    out = []
    for item in split_csv(mount.raw):
        key, eq, value = item.partition("=")
        out.append(f"{key}={expand(value)}" if eq else item)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(out)
    return dataclasses.replace(expanded, raw=buffer.getvalue())
