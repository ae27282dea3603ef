"""A bake definition: targets and groups, merged and printed as buildx does.

A `Target` holds what one `docker buildx build` invocation would be given,
each attribute unset (None) until a file or `--set` sets it. `FIELDS`
lists the attributes in the order buildx prints them, with how a later
definition of the same target combines with an earlier one (a later file,
a later block, or the target itself over what it `inherits`):

- `replace`: the later value wins (strings, booleans, `tags`, `platforms`,
  `output`, `cache-to`, `shm-size`);
- `append`: the lists are joined, duplicates dropped (`annotations`,
  `cache-from`, `secret`, `ssh`, `no-cache-filter`, `ulimits`, ...);
- `update`: the maps are merged key by key, a None value never overwriting
  (`args`, `labels`, `contexts`, `extra-hosts`).

Entries of `cache-from`, `cache-to`, `output`, `secret`, `ssh` and `attest`
are dicts, as buildx prints them (`{"type": "registry", "ref": "..."}`);
`builder.bake.specs` converts them from and to the CSV strings of the
command-line flags.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

Merge = Literal["replace", "append", "update"]
Kind = Literal["str", "bool", "list", "map", "entries"]


@dataclass(frozen=True)
class Field:
    """One target attribute: its key in bake files, its Python name, its kind and merge rule."""

    key: str
    kind: Kind
    merge: Merge

    @property
    def attr(self) -> str:
        return self.key.replace("-", "_")


#: the attributes in buildx's print order (its Target struct)
FIELDS: tuple[Field, ...] = (
    Field("description", "str", "replace"),
    Field("inherits", "list", "append"),
    Field("annotations", "list", "append"),
    Field("attest", "entries", "append"),
    Field("context", "str", "replace"),
    Field("contexts", "map", "update"),
    Field("dockerfile", "str", "replace"),
    Field("dockerfile-inline", "str", "replace"),
    Field("args", "map", "update"),
    Field("labels", "map", "update"),
    Field("tags", "list", "replace"),
    Field("cache-from", "entries", "append"),
    Field("cache-to", "entries", "replace"),
    Field("target", "str", "replace"),
    Field("secret", "entries", "append"),
    Field("ssh", "entries", "append"),
    Field("platforms", "list", "replace"),
    Field("output", "entries", "replace"),
    Field("pull", "bool", "replace"),
    Field("no-cache", "bool", "replace"),
    Field("network", "str", "replace"),
    Field("no-cache-filter", "list", "append"),
    Field("shm-size", "str", "replace"),
    Field("ulimits", "list", "append"),
    Field("call", "str", "replace"),
    Field("entitlements", "list", "append"),
    Field("extra-hosts", "map", "update"),
)
FIELD_BY_KEY: dict[str, Field] = {f.key: f for f in FIELDS}
#: attributes a target block may hold besides FIELDS (HCL only)
META_KEYS = ("name", "matrix")


@dataclass
class Target:
    """One build, as a bake file describes it; None: not set."""

    name: str
    description: str | None = None
    inherits: list[str] | None = None
    annotations: list[str] | None = None
    attest: list[dict[str, str]] | None = None
    context: str | None = None
    contexts: dict[str, str | None] | None = None
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] | None = None
    labels: dict[str, str | None] | None = None
    tags: list[str] | None = None
    cache_from: list[dict[str, str]] | None = None
    cache_to: list[dict[str, str]] | None = None
    target: str | None = None
    secret: list[dict[str, str]] | None = None
    ssh: list[dict[str, Any]] | None = None
    platforms: list[str] | None = None
    output: list[dict[str, str]] | None = None
    pull: bool | None = None
    no_cache: bool | None = None
    network: str | None = None
    no_cache_filter: list[str] | None = None
    shm_size: str | None = None
    ulimits: list[str] | None = None
    call: str | None = None
    entitlements: list[str] | None = None
    extra_hosts: dict[str, str | None] | None = None

    def get(self, key: str) -> Any:
        return getattr(self, FIELD_BY_KEY[key].attr)

    def set(self, key: str, value: Any) -> None:
        setattr(self, FIELD_BY_KEY[key].attr, value)

    def merge(self, other: Target) -> None:
        """Lay `other` over this target, as buildx's Target.Merge does."""
        for spec in FIELDS:
            value = getattr(other, spec.attr)
            if value is None:
                continue
            mine = getattr(self, spec.attr)
            if spec.merge == "replace" or mine is None:
                if spec.kind == "map":
                    value = {k: v for k, v in value.items() if v is not None}
                setattr(self, spec.attr, copy.deepcopy(value))
            elif spec.merge == "append":
                setattr(self, spec.attr, mine + copy.deepcopy(value))
            else:
                mine.update({k: v for k, v in value.items() if v is not None})

    def copy(self, name: str | None = None) -> Target:
        clone = copy.deepcopy(self)
        if name is not None:
            clone.name = name
        return clone

    def normalize(self) -> None:
        """Drop duplicates and empty entries, as buildx does after resolving a target."""
        for spec in FIELDS:
            value = getattr(self, spec.attr)
            if spec.kind in ("list", "entries") and value is not None and spec.key != "inherits":
                setattr(self, spec.attr, dedup([v for v in value if v not in ("", {})]))
        for attr in ("secret", "ssh"):  # one entry per id, the later one in its place
            entries = getattr(self, attr)
            if entries:
                by_id: dict[str, dict[str, Any]] = {}
                for item in entries:
                    by_id[item.get("id", "")] = item
                setattr(self, attr, list(by_id.values()))
        if self.network == "host":
            self.entitlements = dedup([*(self.entitlements or []), "network.host"])
        if self.contexts is not None:
            self.contexts = {k: v for k, v in self.contexts.items() if v} or None


@dataclass
class Group:
    name: str
    targets: list[str] = field(default_factory=list)
    description: str | None = None


@dataclass(frozen=True)
class Variable:
    """A `variable` block as `--list variables` shows it (value None: null)."""

    name: str
    type: str = ""
    value: str | None = None
    description: str = ""


@dataclass
class Config:
    """Groups and targets in definition order; a name appears once in each list."""

    groups: list[Group] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)  #: of the HCL/JSON files

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)

    def add_group(self, group: Group) -> None:
        """Add `group`, or add its new targets to the group of that name."""
        mine = self.group(group.name)
        if mine is None:
            self.groups.append(Group(group.name, dedup(group.targets), group.description))
            return
        mine.targets = dedup(mine.targets + group.targets)
        if group.description:
            mine.description = group.description

    def add_target(self, target: Target) -> None:
        """Add `target`, or merge it over the target of that name."""
        mine = self.target(target.name)
        if mine is None:
            self.targets.append(target)
        else:
            mine.merge(target)

    def merge(self, other: Config) -> None:
        self.variables += other.variables
        for group in other.groups:
            self.add_group(group)
        for target in other.targets:
            self.add_target(target)


def dedup(values: list[Any]) -> list[Any]:
    """`values` without repeats, in their first order (unhashable values too)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out
