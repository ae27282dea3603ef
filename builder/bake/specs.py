"""The entries of `cache-from`, `cache-to`, `output`, `secret`, `ssh`, `attest`: dicts and CSV.

Bake files give them as objects (`{ type = "registry", ref = "r" }`) or as
the CSV strings of the build flags (`type=registry,ref=r`); buildx prints
them as objects. `entry(kind, value)` reads either form into the printed
dict, `to_flag(kind, entry)` writes the flag string `builder.build` takes.
"""

from __future__ import annotations

import csv
from typing import Any, Literal

from builder.errors import UsageError

Kind = Literal["cache", "output", "secret", "ssh", "attest"]

KIND_OF_KEY: dict[str, Kind] = {
    "cache-from": "cache",
    "cache-to": "cache",
    "output": "output",
    "secret": "secret",
    "ssh": "ssh",
    "attest": "attest",
}


def _fields(text: str, what: str) -> list[str]:
    try:
        return next(csv.reader([text], skipinitialspace=False)) if text else []
    except csv.Error as err:
        raise UsageError(f"invalid {what} {text!r}: {err}") from None


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in _fields(text, what):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"invalid {what} {text!r}: {item!r} is not KEY=VALUE")
        pairs.append((key.strip().lower(), value))
    return pairs


def parse_entry(kind: Kind, text: str, what: str) -> dict[str, Any]:
    """One CSV string, read as buildx reads the flag of that kind."""
    if kind == "cache":
        if "=" not in text:  # a bare reference: a registry cache
            return {"type": "registry", "ref": text}
        entry = dict(_pairs(text, what))
        if not entry.get("type"):
            raise UsageError(f"invalid {what} {text!r}: type required")
        return entry
    if kind == "output":
        if "=" not in text and "," not in text:  # a directory, or - for a tar on stdout
            return {"type": "tar" if text == "-" else "local", "dest": text}
        entry = dict(_pairs(text, what))
        if not entry.get("type"):
            raise UsageError(f"invalid {what} {text!r}: type is required for output")
        return entry
    if kind == "secret":
        secret: dict[str, Any] = {}
        kind_of = ""
        for key, value in _pairs(text, what):
            if key == "type":
                if value not in ("file", "env"):
                    raise UsageError(f"invalid {what} {text!r}: unsupported secret type {value!r}")
                kind_of = value
            elif key == "id":
                secret["id"] = value
            elif key in ("src", "source"):
                secret["src"] = value
            elif key == "env":
                secret["env"] = value
            else:
                raise UsageError(f"invalid {what} {text!r}: unexpected key {key!r}")
        if kind_of == "env" and "env" not in secret and "src" in secret:
            secret["env"] = secret.pop("src")
        return secret
    if kind == "ssh":
        ident, eq, paths = text.partition("=")
        return {"id": ident, "paths": paths.split(",")} if eq else {"id": ident}
    return dict(_pairs(text, what))


def entry(kind: Kind, value: Any, what: str) -> dict[str, Any]:
    """A bake file's entry (a CSV string or an object) as the dict buildx prints."""
    if isinstance(value, str):
        return parse_entry(kind, value, what)
    if not isinstance(value, dict):
        raise UsageError(f"invalid {what}: expected a string or an object, got {value!r}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if item is None:
            continue
        if kind == "ssh" and key == "paths":
            out[key] = [str(p) for p in (item if isinstance(item, list) else [item])]
        elif kind == "secret" and key == "type":
            continue  # buildx keeps only id, src and env
        else:
            out[key] = _scalar(item)
    if kind in ("cache", "output") and not out.get("type"):
        raise UsageError(f"invalid {what}: type required in {value!r}")
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv(pairs: list[tuple[str, str]]) -> str:
    out = []
    for key, value in pairs:
        item = f"{key}={value}"
        out.append(f'"{item}"' if "," in item or '"' in item else item)
    return ",".join(out)


def to_flag(kind: Kind, item: dict[str, Any]) -> str:
    """The build flag's CSV string for one entry (`--cache-from`, `-o`, `--secret`, `--ssh`)."""
    if kind == "ssh":
        paths = item.get("paths") or []
        return f"{item['id']}={','.join(paths)}" if paths else str(item.get("id", "default"))
    if kind == "secret":
        return _csv([(k, str(item[k])) for k in ("id", "src", "env") if item.get(k)])
    first = [("type", str(item["type"]))] if "type" in item else []
    return _csv(first + [(k, str(v)) for k, v in sorted(item.items()) if k != "type"])
