"""From a definition and the names asked for to the targets to build, as buildx resolves them.

- No name given: `default`. A name is a group (groups win over targets of
  the same name) or a target; a glob (`app-*`) matches both.
- A group expands to its targets, nested groups included, duplicates
  dropped, in order.
- A target is laid over what it `inherits` (each parent resolved the same
  way first, left to right, a later parent winning), then its `--set`
  overrides apply (a parent's overrides apply to the parent too); unset
  `context` is `.` and unset `dockerfile` is `Dockerfile`.
- `target:NAME` in `contexts` pulls NAME in as a linked target with a
  `cacheonly` output, as buildx does.
- The printed `default` group lists every name asked for (sorted), unless a
  group `default` was itself asked for.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from builder.bake.model import Config, Group, Target
from builder.bake.overrides import Overrides, apply_overrides, parse_overrides
from builder.errors import UsageError


@dataclass
class Resolved:
    """What `pybuild bake` builds (`targets`, by name) and prints (`groups` too)."""

    targets: dict[str, Target] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  #: targets in the order they were asked for


def _match_names(config: Config, pattern: str) -> list[str]:
    if not any(c in pattern for c in "*?[]"):
        return [pattern]
    names = [g.name for g in config.groups if fnmatch.fnmatchcase(g.name, pattern)]
    names += [t.name for t in config.targets if fnmatch.fnmatchcase(t.name, pattern)]
    if not names:
        raise UsageError(f"could not find any target matching {pattern!r}")
    return names


def _expand(config: Config, name: str, seen: set[str]) -> tuple[list[str], list[str]]:
    """The targets and groups `name` stands for."""
    group = config.group(name)
    if group is None:
        return [name], []
    if name in seen:
        return [], []
    seen.add(name)
    targets: list[str] = []
    groups = [name]
    for member in group.targets:
        more, more_groups = _expand(config, member, seen)
        targets += more or [member]  # a group holding its namesake target: that target
        groups += more_groups
    return targets, groups


@dataclass
class _Resolver:
    config: Config
    overrides: Overrides
    done: dict[str, Target | None] = field(default_factory=dict)

    def target(self, name: str) -> Target | None:
        if name in self.done:
            return self.done[name]  # None: a cycle of inherits, skipped as buildx does
        self.done[name] = None
        defined = self.config.target(name)
        if defined is None:
            known = ", ".join(t.name for t in self.config.targets) or "(none)"
            raise UsageError(f"failed to find target {name}", hint=f"targets: {known}")
        base = Target(name)
        for parent in defined.inherits or []:
            resolved = self.target(parent)
            if resolved is not None:
                base.merge(resolved)
        merged = Target(name)
        merged.merge(base)
        merged.merge(defined)
        apply_overrides(merged, self.overrides.get(name, {}))
        merged.normalize()
        self.done[name] = merged
        return merged

    def final(self, name: str) -> Target:
        resolved = self.target(name)
        assert resolved is not None
        out = resolved.copy()
        out.inherits = None
        if out.context is None:
            out.context = "."
        elif not out.context.startswith("cwd://") and not _remote(out.context):
            out.context = posixpath.normpath(out.context)  # buildx prints it cleaned
        if not out.dockerfile:
            out.dockerfile = "Dockerfile"
        return out


def resolve(
    config: Config, names: list[str], set_values: list[str], environ: Mapping[str, str]
) -> Resolved:
    """The targets and groups `names` (default: `default`) stand for, with `--set` applied."""
    wanted: list[str] = []
    for name in names or ["default"]:
        wanted += _match_names(config, name.replace(".", "_"))
    wanted = list(dict.fromkeys(wanted))
    overrides = parse_overrides(set_values, [t.name for t in config.targets], environ)
    resolver = _Resolver(config, overrides)
    out = Resolved()
    for name in wanted:
        targets, groups = _expand(config, name, set())
        for target in dict.fromkeys(targets):
            if target not in out.targets:
                out.targets[target] = resolver.final(target)
                out.order.append(target)
        for group_name in dict.fromkeys(groups):
            group = config.group(group_name)
            assert group is not None
            out.groups[group_name] = Group(group.name, list(group.targets), group.description)
    for name in wanted:
        if name == "default" and "default" in out.groups:
            continue
        default = out.groups.setdefault("default", Group("default"))
        if name not in default.targets:
            default.targets.append(name)
    if "default" in out.groups:
        out.groups["default"].targets.sort()
    for name in list(out.targets):
        _link(resolver, out, name, [])
    return out


def _link(resolver: _Resolver, out: Resolved, name: str, visited: list[str]) -> None:
    """Pull in the targets `target:NAME` contexts use, as cacheonly builds (buildx's loadLinks)."""
    visited = [*visited, name]
    for value in (out.targets[name].contexts or {}).values():
        if not value or not value.startswith("target:"):
            continue
        linked = value.removeprefix("target:")
        if linked == name:
            raise UsageError(f"target {linked} cannot link to itself")
        if linked in visited:
            raise UsageError(f"infinite loop from {name} to {linked}")
        if linked not in out.targets:
            target = resolver.final(linked)
            target.output = [{"type": "cacheonly"}]
            out.targets[linked] = target
            out.order.insert(0, linked)
        _link(resolver, out, linked, visited)


def _remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))
