"""`--cache-from` / `--cache-to` values, parsed as buildx reads them.

A value is CSV of `key=value` fields (`type=registry,ref=host/cache:main,mode=max`);
a bare `REF` means `type=registry,ref=REF`. Types: `registry` (ref, mode),
`local` (src or dest, tag, digest) and `inline` (`--cache-to` only; it
embeds the records in the built image). `ignore-error=true` on `--cache-to`
turns a failed export into a warning. BuildKit options pybuild has no use
for (`oci-mediatypes`, `image-manifest`, `compression`, ...) are accepted
and change nothing; any other key is a UsageError, so typos do not pass
silently.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Literal

from builder.errors import UsageError
from builder.image.digest import is_digest
from builder.image.reference import ReferenceError, parse_reference

Direction = Literal["from", "to"]
CacheType = Literal["registry", "local", "inline"]
CacheMode = Literal["min", "max"]

_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
#: BuildKit exporter options that change nothing here (our format has one layout).
_NO_OP_KEYS = frozenset(
    {"oci-mediatypes", "image-manifest", "compression", "compression-level", "force-compression"}
)
_KEYS: dict[tuple[str, str], frozenset[str]] = {
    ("registry", "from"): frozenset({"ref"}),
    ("registry", "to"): frozenset({"ref", "mode", "ignore-error"}) | _NO_OP_KEYS,
    ("local", "from"): frozenset({"src", "tag", "digest"}),
    ("local", "to"): frozenset({"dest", "tag", "mode", "ignore-error"}) | _NO_OP_KEYS,
    ("inline", "to"): frozenset({"mode", "ignore-error"}),
}
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})


@dataclass(frozen=True)
class CacheSpec:
    """One `--cache-from` or `--cache-to` option."""

    type: CacheType
    direction: Direction
    ref: str | None = None  #: registry: the normalized reference (`host/repo:tag`)
    mode: CacheMode = "min"  #: --cache-to: min = the final image's steps, max = all steps
    dest: str | None = None  #: local --cache-to: the OCI layout directory to write
    src: str | None = None  #: local --cache-from: the OCI layout directory to read
    tag: str = "latest"  #: local: the tag of the cache manifest in index.json
    digest: str | None = None  #: local --cache-from: a manifest digest (overrides tag)
    ignore_error: bool = False  #: --cache-to: a failed export is a warning, not an error

    def describe(self) -> str:
        """`registry 127.0.0.1:5000/cache:main`, `local directory /ci/cache`, `inline`."""
        if self.type == "registry":
            assert self.ref is not None
            return f"registry {parse_reference(self.ref).familiar}"
        if self.type == "local":
            return f"local directory {self.src if self.direction == 'from' else self.dest}"
        return "inline (image config)"


def parse_cache_option(text: str, *, direction: Direction) -> CacheSpec:
    """Parse one `--cache-from` (`direction="from"`) or `--cache-to` value."""
    flag = f"--cache-{direction}"
    if not text.strip():
        raise UsageError(
            f"{flag}: empty value", hint=f"write {flag} type=registry,ref=HOST/REPO:TAG"
        )
    bare = "=" not in text  # `REF` alone: a registry cache, as in buildx
    fields = {"type": "registry", "ref": text.strip()} if bare else _fields(text, flag)
    kind = fields.pop("type", None)
    if kind is None:
        if "ref" not in fields:
            raise UsageError(f"{flag} {text!r}: type is required", hint="add type=registry|local")
        kind = "registry"
    if kind not in ("registry", "local", "inline"):
        raise UsageError(
            f"{flag} {text!r}: unsupported cache type {kind!r}",
            hint="pybuild supports type=registry, type=local"
            + (" and type=inline" if direction == "to" else ""),
        )
    allowed = _KEYS.get((kind, direction))
    if allowed is None:
        raise UsageError(
            f"{flag} {text!r}: type=inline can only be exported",
            hint="read an inline cache with --cache-from type=registry,ref=IMAGE",
        )
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise UsageError(
            f"{flag} {text!r}: unknown option {unknown[0]!r} for type={kind}",
            hint="allowed: type, " + ", ".join(sorted(allowed - _NO_OP_KEYS)),
        )
    mode = fields.get("mode", "min")
    if mode not in ("min", "max"):
        raise UsageError(f"{flag} {text!r}: mode must be min or max, not {mode!r}")
    if kind == "inline" and mode == "max":
        raise UsageError(
            f"{flag} {text!r}: the inline cache supports only mode=min",
            hint="export every stage with --cache-to type=registry,ref=...,mode=max",
        )
    ignore_error = _bool(fields.get("ignore-error", "false"), f"{flag} {text!r}: ignore-error")
    tag = fields.get("tag", "latest")
    if not _TAG.match(tag):
        raise UsageError(f"{flag} {text!r}: invalid tag {tag!r}")
    digest = fields.get("digest")
    if digest is not None and not is_digest(digest):
        raise UsageError(f"{flag} {text!r}: invalid digest {digest!r}", hint="use sha256:<hex>")
    return CacheSpec(
        type=kind,  # type: ignore[arg-type]
        direction=direction,
        ref=_ref(fields, kind, direction, flag, text),
        mode=mode,  # type: ignore[arg-type]
        dest=_path(fields, "dest", kind == "local" and direction == "to", flag, text),
        src=_path(fields, "src", kind == "local" and direction == "from", flag, text),
        tag=tag,
        digest=digest,
        ignore_error=ignore_error,
    )


def _fields(text: str, flag: str) -> dict[str, str]:
    try:
        rows = list(csv.reader([text]))
    except csv.Error as err:
        raise UsageError(f"{flag} {text!r}: {err}") from None
    fields: dict[str, str] = {}
    for field in rows[0] if rows else []:
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"{flag} {text!r}: {field!r} is not key=value")
        if key in fields:
            raise UsageError(f"{flag} {text!r}: {key!r} is given twice")
        fields[key] = value.strip()
    return fields


def _bool(value: str, what: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UsageError(f"{what}: expected true or false, not {value!r}")


def _ref(fields: dict[str, str], kind: str, direction: str, flag: str, text: str) -> str | None:
    if kind != "registry":
        return None
    value = fields.get("ref", "")
    if not value:
        raise UsageError(f"{flag} {text!r}: type=registry needs ref=HOST/REPOSITORY[:TAG]")
    try:
        ref = parse_reference(value)
    except ReferenceError as err:
        raise UsageError(f"{flag} {text!r}: {err}") from None
    if direction == "to" and ref.digest is not None:
        raise UsageError(f"{flag} {text!r}: cannot export to a digest; give a tag")
    return str(ref)


def _path(fields: dict[str, str], key: str, required: bool, flag: str, text: str) -> str | None:
    value = fields.get(key)
    if required and not value:
        raise UsageError(f"{flag} {text!r}: type=local needs {key}=DIRECTORY")
    return value or None
