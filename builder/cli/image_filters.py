"""`pybuild images --filter` / `-a`: docker's image-list filters, with its semantics.

`dangling=true|false`, `reference=PATTERN`, `label=KEY[=VALUE]`,
`before=IMAGE`, `since=IMAGE`. Values of one key are OR-ed, different keys
AND-ed, as docker does. Without `-a`, intermediate images (untagged,
undigested images that another image was built on) are hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.errors import PybuildError, UsageError

if TYPE_CHECKING:
    from builder.image.model import ImageConfig
    from builder.store import ImageRecord, Store

KEYS = ("dangling", "reference", "label", "before", "since")
_TRUE = ("true", "1")
_FALSE = ("false", "0")


class InvalidFilterError(PybuildError):
    """An unknown filter key or a bad value: docker's `invalid filter '...'` (exit 1)."""


@dataclass
class ImageFilters:
    """The parsed `--filter` options: each key with the values given for it."""

    values: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: list[str]) -> ImageFilters:
        filters = cls()
        for spec in specs:
            key, eq, value = spec.partition("=")
            if not eq:
                raise UsageError(
                    f'invalid argument "{spec}" for "-f, --filter" flag: '
                    "bad format of filter (expected name=value)"
                )
            key = key.strip().lower()
            if key not in KEYS:
                raise InvalidFilterError(f"invalid filter '{key}'")
            if key == "dangling" and value.lower() not in _TRUE + _FALSE:
                raise InvalidFilterError(f"invalid filter 'dangling={value}'")
            filters.values.setdefault(key, []).append(value)
        return filters

    def get(self, key: str) -> list[str]:
        return self.values.get(key, [])


def path_match(pattern: str, text: str) -> bool:
    """Go's `path.Match`: `*` and `?` stop at `/`; `[...]` classes, `[^...]` negated."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return False  # Go: ErrBadPattern, docker then matches nothing
            body = pattern[i + 1 : end]
            if body.startswith("^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.fullmatch("".join(out), text) is not None


def reference_matches(pattern: str, familiar: str) -> bool:
    """docker's `reference.FamiliarMatch`: the familiar `name:tag`, else the familiar name."""
    if path_match(pattern, familiar):
        return True
    name = familiar.rsplit(":", 1)[0] if ":" in familiar.split("/")[-1] else familiar
    return path_match(pattern, name)


def _dangling(record: ImageRecord) -> bool:
    return not record.names and not record.repo_digests


def _built_on(child: ImageConfig, parent: ImageConfig) -> bool:
    """`child` extends `parent`: the parent's layers and history are its first ones."""
    if len(child.history) <= len(parent.history):
        return False
    if child.diff_ids[: len(parent.diff_ids)] != parent.diff_ids:
        return False
    return all(
        (c.created_by, c.created) == (p.created_by, p.created)
        for c, p in zip(child.history, parent.history, strict=False)
    )


def intermediate_ids(store: Store, records: list[ImageRecord]) -> set[str]:
    """Dangling images that another stored image was built on (docker hides them without -a)."""
    dangling = [r for r in records if _dangling(r)]
    if not dangling:
        return set()
    configs = {r.id: store.config(r) for r in records}
    return {
        d.id
        for d in dangling
        if any(o.id != d.id and _built_on(configs[o.id], configs[d.id]) for o in records)
    }


def select_images(
    store: Store, records: list[ImageRecord], filters: ImageFilters, *, show_all: bool
) -> list[ImageRecord]:
    """The records `images` lists, in order: `-a` and every filter but `reference` applied."""
    hidden = set() if show_all else intermediate_ids(store, records)
    before = [store.resolve(v).created for v in filters.get("before")]
    since = [store.resolve(v).created for v in filters.get("since")]
    dangling = {v.lower() in _TRUE for v in filters.get("dangling")}
    labels = filters.get("label")
    chosen = []
    for record in records:
        if record.id in hidden:
            continue
        if dangling and _dangling(record) not in dangling:
            continue
        if before and not any(_time(record.created) < _time(t) for t in before):
            continue
        if since and not any(_time(record.created) > _time(t) for t in since):
            continue
        if labels and not _has_label(store.config(record), labels):
            continue
        chosen.append(record)
    return chosen


def _has_label(config: ImageConfig, specs: list[str]) -> bool:
    own = config.config.labels
    for spec in specs:
        key, eq, value = spec.partition("=")
        if key in own and (not eq or own[key] == value):
            return True
    return False


def _time(created: str) -> float:
    """An RFC 3339 time as a unix time (0 when missing or malformed)."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(created).timestamp()
    except ValueError:
        return 0.0
