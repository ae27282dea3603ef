"""`--set TARGET.KEY=VALUE`: command-line overrides of target attributes, as buildx reads them.

TARGET is a name or a glob (`*`, `foo*`: Go's path.Match, like fnmatch);
KEY is an attribute (`args.NAME`, `labels.NAME`, `contexts.NAME`,
`extra-hosts.NAME` and `secret.ID` address one entry). `KEY+=VALUE`
appends to the lists that allow it; repeating `--set` for a list key gives
several values. `--set T.args.NAME` without `=` takes NAME from the
environment. A pattern that matches no target, or a key bake does not
know, is a UsageError (exit 2).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from builder.bake.model import Target
from builder.bake.specs import parse_entry
from builder.errors import UsageError

#: keys whose value is a list: repeated --set gives several entries, `+=` appends
LIST_KEYS = (
    "output", "cache-to", "cache-from", "tags", "platform", "secrets", "ssh", "attest",
    "entitlements", "annotations", "no-cache-filter", "ulimits",
)  # fmt: skip
APPENDABLE = (
    "annotations", "attest", "cache-from", "cache-to", "entitlements", "no-cache-filter",
    "output", "platform", "secrets", "ssh", "tags", "ulimits",
)  # fmt: skip
MAP_KEYS = ("args", "labels", "contexts", "extra-hosts", "secret")
SCALAR_KEYS = ("context", "dockerfile", "target", "call", "shm-size", "network")
BOOL_KEYS = ("no-cache", "pull", "push", "load")
KNOWN = (*LIST_KEYS, *MAP_KEYS, *SCALAR_KEYS, *BOOL_KEYS)


@dataclass
class Override:
    value: str | None = None
    values: list[str] = field(default_factory=list)
    append: bool = False


Overrides = dict[str, dict[str, Override]]  #: target name -> key ("args.X") -> override


def match_targets(pattern: str, names: list[str]) -> list[str]:
    if pattern in names:
        return [pattern]
    found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if not found:
        raise UsageError(
            f"--set: could not find any target matching {pattern!r}",
            hint=f"targets: {', '.join(names) or '(none)'}",
        )
    return found


def parse_overrides(
    values: list[str], target_names: list[str], environ: Mapping[str, str]
) -> Overrides:
    """The `--set` values, per target; UsageError for a bad one."""
    out: Overrides = {}
    for text in values:
        left, eq, value = text.partition("=")
        append = left.endswith("+")
        keys = left.removesuffix("+").split(".", 2)
        if len(keys) < 2 or not keys[0] or not keys[1]:
            raise UsageError(
                f"--set {text!r}: invalid override key, expected TARGET.KEY=VALUE",
                hint="for example --set '*.platform=linux/amd64' or --set app.args.V=1",
            )
        key = keys[1]
        if key not in KNOWN:
            raise UsageError(
                f"--set {text!r}: unknown key {key!r}",
                hint=f"keys: {', '.join(sorted(KNOWN))}",
            )
        if key in MAP_KEYS and len(keys) != 3:
            raise UsageError(f"--set {text!r}: {key} requires a name ({key}.NAME=VALUE)")
        if key not in MAP_KEYS and len(keys) == 3:
            raise UsageError(f"--set {text!r}: unknown key {'.'.join(keys[1:])!r}")
        if append and key not in APPENDABLE:
            raise UsageError(f"--set {text!r}: {key} does not support +=")
        if not eq:
            if key == "args":
                if keys[2] not in environ:
                    continue
                value = environ[keys[2]]
            elif key in BOOL_KEYS:
                value = "true"
            else:
                raise UsageError(f"--set {text!r}: expected TARGET.KEY=VALUE")
        if key in BOOL_KEYS:
            _bool(value, key)
        okey = ".".join(keys[1:])
        for name in match_targets(keys[0], target_names):
            override = out.setdefault(name, {}).setdefault(okey, Override())
            if key in LIST_KEYS:
                override.append = append
                override.values.append(value)
            else:
                override.value = value
    return out


def _bool(text: str, key: str) -> bool:
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise UsageError(f"--set: invalid value {text!r} for boolean key {key}")


def _entries(kind: str, values: list[str], key: str) -> list[dict[str, Any]]:
    return [parse_entry(kind, v, f"--set {key}") for v in values if v]  # type: ignore[arg-type]


def apply_overrides(target: Target, overrides: Mapping[str, Override]) -> None:
    """Lay the overrides of one target over it, as buildx's AddOverrides does."""
    for okey, override in overrides.items():
        key, _, sub = okey.partition(".")
        value = override.value or ""
        values, append = override.values, override.append
        if key in ("context", "dockerfile", "target", "call", "network"):
            target.set(key, value)
        elif key == "shm-size":
            target.shm_size = value
        elif key in ("args", "labels", "contexts", "extra-hosts"):
            mapping = target.get(key) or {}
            mapping[sub] = value
            target.set(key, mapping)
        elif key == "secret":
            _update_secret(target, sub, value)
        elif key in ("tags", "platform", "no-cache-filter", "ulimits"):
            attr = "platforms" if key == "platform" else key
            current = target.get(attr) or []
            target.set(attr, current + values if append else list(values))
        elif key in ("annotations", "entitlements"):
            target.set(key, (target.get(key) or []) + values)
        elif key in ("cache-from", "cache-to", "output", "ssh", "attest", "secrets"):
            attr = "secret" if key == "secrets" else key
            kind = {"cache-from": "cache", "cache-to": "cache", "secrets": "secret"}.get(key, key)
            items = _entries(kind, values, key)
            current = target.get(attr) or []
            merged = current + items if append or key == "attest" else items
            target.set(attr, merged or None)
        elif key in ("no-cache", "pull"):
            target.set(key, _bool(value, key))
        elif key == "push":
            target.output = push_outputs(target.output or [], _bool(value, key))
        elif key == "load":
            target.output = load_outputs(target.output or [], _bool(value, key))


def _update_secret(target: Target, ident: str, value: str) -> None:
    for secret in target.secret or []:
        if secret.get("id") != ident:
            continue
        new = parse_entry("secret", value, f"--set secret.{ident}")
        if new.get("id") not in (None, ident):
            raise UsageError(f"--set secret.{ident}: the override's id {new['id']!r} differs")
        secret.pop("src", None)
        secret.pop("env", None)
        secret.update({k: v for k, v in new.items() if k != "id"})
        return
    raise UsageError(
        f"--set secret.{ident}: secret {ident!r} must be declared before it can be overridden"
    )


def push_outputs(outputs: list[dict[str, str]], push: bool) -> list[dict[str, str]] | None:
    """`--push` (`*.push=true`): buildx's setPushOverride on a target's outputs."""
    outputs = [dict(o) for o in outputs]
    if not push:
        kept = [o for o in outputs if o.get("type") != "registry"]
        for output in kept:
            if output.get("type") == "image":
                output["push"] = "false"
        return kept or None
    add = all(o.get("type") == "docker" for o in outputs)
    for output in outputs:
        if output.get("type") == "image":
            output["push"] = "true"
    if add:
        outputs.append({"type": "image", "push": "true"})
    return outputs


def load_outputs(outputs: list[dict[str, str]], load: bool) -> list[dict[str, str]] | None:
    """`--load` (`*.load=true`): buildx's setLoadOverride on a target's outputs."""
    if not load:
        return outputs or None
    for output in outputs:
        kind = output.get("type")
        if kind == "docker" and not output.get("dest"):
            return outputs
        if kind not in ("docker", "image", "registry", "oci"):
            return outputs
    return [*outputs, {"type": "docker"}]
