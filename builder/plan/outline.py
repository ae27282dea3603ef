"""buildx's `--call outline` and `--call targets` as data, from the parsed file and the plan."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from builder.dockerfile.ast import Dockerfile, Instruction
from builder.dockerfile.commands import ArgCommand, RunCommand, Stage
from builder.dockerfile.instructions import parse_stages
from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from builder.plan.model import BuildPlan


@dataclass(frozen=True)
class Target:
    """One stage that `--target` can name."""

    name: str  #: "" for the unnamed last stage
    description: str
    default: bool  #: the last stage: what a build without `--target` builds


@dataclass(frozen=True)
class OutlineArg:
    name: str
    value: str  #: the `--build-arg` value, else the default as the build expands it
    description: str
    line: int


@dataclass(frozen=True)
class OutlineMount:
    """A secret or an SSH agent a RUN step of the target mounts."""

    name: str
    required: bool
    line: int


@dataclass
class Outline:
    """What building the target takes: BuildKit's `frontend.outline` result."""

    name: str  #: the target stage's name, "" when unnamed
    description: str
    args: list[OutlineArg] = field(default_factory=list)
    secrets: list[OutlineMount] = field(default_factory=list)
    ssh: list[OutlineMount] = field(default_factory=list)


def description(dockerfile: Dockerfile, node: Instruction, name: str) -> str:
    """BuildKit's description of `name`: a comment of the block right above `node`
    that starts with `name `, without it ("" when there is none)."""
    if not name:
        return ""
    by_line = {c.line: c.text for c in dockerfile.comments if not c.in_continuation}
    block: list[str] = []
    line = node.start_line - 1
    while by_line.get(line):  # a blank line or a bare `#` ends the block
        block.append(by_line[line])
        line -= 1
    for text in reversed(block):
        if text.startswith(name + " "):
            return text[len(name) + 1 :]
    return ""


def targets(dockerfile: Dockerfile) -> list[Target]:
    """The stages `--target` can name, in file order, and the default (last) one."""
    _, stages = parse_stages(dockerfile)
    found = []
    for stage in stages:
        default = stage.index == len(stages) - 1
        if stage.name is None and not default:
            continue
        name = stage.name or ""
        found.append(Target(name, description(dockerfile, stage.node, name), default))
    return found


def outline(dockerfile: Dockerfile, build_plan: BuildPlan) -> Outline:
    """The target's build args (global ones its FROM lines use, every ARG of the
    stages it needs), secrets and SSH agents, ordered by line as BuildKit does."""
    meta_args, stages = parse_stages(dockerfile)
    target = build_plan.target_stage
    result = Outline(
        name=target.name or "",
        description=description(dockerfile, stages[target.index].node, target.name or ""),
    )
    needed = [s for s in build_plan.stages if s.needed]
    lexer = ShellLexer(escape=dockerfile.escape)
    args: dict[str, OutlineArg] = {}
    needed_stages = [stages[s.index] for s in needed]
    for arg in _used_globals(dockerfile, meta_args, needed_stages, build_plan, lexer):
        args.setdefault(arg.name, arg)
    for stage in needed:
        for step in stage.steps:
            cmd = step.command
            if isinstance(cmd, ArgCommand):
                for name, value in cmd.args:
                    shown = value if value is not None else build_plan.global_args.get(name, "")
                    text = description(dockerfile, cmd.node, name)
                    args.setdefault(name, OutlineArg(name, shown, text, step.line))
            elif isinstance(cmd, RunCommand) and not step.onbuild:
                for mount in cmd.mounts:
                    if mount.type == "secret":
                        secret_id = mount.id or posixpath.basename(mount.target or "")
                        result.secrets.append(OutlineMount(secret_id, mount.required, step.line))
                    elif mount.type == "ssh":
                        ssh_id = mount.id or "default"
                        result.ssh.append(OutlineMount(ssh_id, mount.required, step.line))
    result.args = sorted(args.values(), key=lambda a: a.line)
    result.secrets = _unique(result.secrets)
    result.ssh = _unique(result.ssh)
    return result


def _used_globals(
    dockerfile: Dockerfile,
    meta_args: list[ArgCommand],
    stages: list[Stage],
    build_plan: BuildPlan,
    lexer: ShellLexer,
) -> list[OutlineArg]:
    """Meta ARGs the needed FROM lines reference, and those their defaults reference."""
    env: Mapping[str, str] = build_plan.global_args
    used: set[str] = set()
    for stage in stages:
        for word in (stage.base_name, stage.platform):
            used |= _names(lexer, word, env)
    declared: list[tuple[str, str | None, ArgCommand]] = [
        (name, default, cmd) for cmd in meta_args for name, default in cmd.args
    ]
    for name, default, _ in reversed(declared):  # a default refers only to earlier ARGs
        if name in used and default is not None:
            used |= _names(lexer, default, env)
    found = []
    for name, _, cmd in declared:
        if name in used:
            value = env.get(name, "")
            text = description(dockerfile, cmd.node, name)
            found.append(OutlineArg(name, value, text, cmd.node.start_line))
    return found


def _names(lexer: ShellLexer, word: str | None, env: Mapping[str, str]) -> set[str]:
    if not word:
        return set()
    try:
        _, matched, unmatched = lexer.expand_word_with_matches(word, env)
    except ExpansionError:
        return set()
    return matched | unmatched


def _unique(mounts: list[OutlineMount]) -> list[OutlineMount]:
    """One entry per name: the first, required when any use requires it."""
    seen: dict[str, OutlineMount] = {}
    for m in mounts:
        old = seen.get(m.name)
        if old is None:
            seen[m.name] = m
        elif m.required and not old.required:
            seen[m.name] = OutlineMount(m.name, True, old.line)
    return list(seen.values())
