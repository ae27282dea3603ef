"""Per-stage steps: each instruction with its words expanded at that point.

Expansion follows what BuildKit expands (its `SupportsSingleWordExpansion`
commands): paths, users, ports, labels, env values, flag values. RUN, CMD,
ENTRYPOINT, SHELL and HEALTHCHECK keep their text: the shell in the container
expands those.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from builder.dockerfile.ast import Dockerfile
from builder.dockerfile.commands import (
    AddCommand,
    ArgCommand,
    Command,
    CopyCommand,
    EnvCommand,
    ExposeCommand,
    LabelCommand,
    RunCommand,
    Stage,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
    copy_words,
)
from builder.dockerfile.flags import InvalidCommand
from builder.dockerfile.instructions import location_of
from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from builder.errors import ArgValueError, Location, PlanError
from builder.plan.args import Scope, Variable, apply_env, declare_arg, run_variables
from builder.plan.base_image import trigger_label
from builder.plan.expander import ScopeExpander, expansion_error
from builder.plan.model import BaseRef, Step

#: Instructions BuildKit turns into a build vertex (the `[stage i/n]` lines).
VERTEX_KINDS = frozenset({"run", "copy", "add", "workdir"})


@dataclass
class StepContext:
    """What expanding one stage needs from the whole plan."""

    dockerfile: Dockerfile
    lexer: ShellLexer
    build_args: Mapping[str, str]
    globals_: Mapping[str, str]
    vertices: itertools.count[int]  #: build-wide step numbers (#N)


def vertex_total(stage: Stage, base: BaseRef) -> int:
    """How many `[i/n]` steps BuildKit shows for a stage: FROM an image, RUN/COPY/ADD/WORKDIR."""
    total = 1 if base.kind == "image" else 0
    return total + sum(1 for c in stage.commands if c.node.keyword in VERTEX_KINDS)


def stage_steps(
    stage: Stage,
    base: BaseRef,
    platform: str | None,
    scope: Scope,
    ctx: StepContext,
    prefix: str,
    triggers: Sequence[Command] = (),
) -> list[Step]:
    """The steps of one stage; `scope` (its starting ARG/ENV state) is updated in place.

    `prefix` starts the progress names: "builder " gives "[builder 1/4]"; BuildKit
    leaves it out ("") when the build has a single stage. `triggers` are the base
    image's ONBUILD commands: they come first, marked `onbuild`, on the FROM line.
    """
    # BuildKit names the FROM vertex before it reads the triggers, so FROM shows the
    # total without them; then every trigger, a vertex or not, adds one to the total.
    from_total = vertex_total(stage, base)
    total = from_total + len(triggers)
    index = itertools.count(1)

    def progress(text: str, of: int) -> tuple[str, int]:
        width = int(1 + math.log10(of)) if of else 1
        return f"[{prefix}{next(index):>{width}}/{of}] {text}", next(ctx.vertices)

    name, vertex = ("", None)
    if base.kind == "image":
        name, vertex = progress(f"FROM {base.name}", from_total)
    steps = [
        Step(
            line=stage.node.start_line,
            kind="from",
            instruction=stage.node.original,
            args=[base.name],
            flags=[f"--platform={platform}"] if platform is not None else [],
            name=name,
            vertex=vertex,
        )
    ]
    commands = [(cmd, True) for cmd in triggers] + [(cmd, False) for cmd in stage.commands]
    for cmd, onbuild in commands:
        hint = None
        if onbuild:
            label = trigger_label(cmd.node.original)
            hint = f"in the ONBUILD trigger {label} of base image {base.name}"
        try:
            step = _step(cmd, scope, ctx)
        except ExpansionError as exc:
            raise expansion_error(exc, _location(cmd, ctx), hint=hint) from None
        except InvalidCommand as exc:
            # a value that expands to something invalid: other ARG values may do
            kind = ArgValueError if "$" in cmd.node.original else PlanError
            raise kind(exc.message, _location(cmd, ctx), exc.hint or hint) from None
        if onbuild:
            step = replace(step, onbuild=True)
        if cmd.node.keyword in VERTEX_KINDS:
            text = _display(cmd, step)
            name, vertex = progress(f"ONBUILD {text}" if onbuild else text, total)
            step = replace(step, name=name, vertex=vertex)
        steps.append(step)
    return steps


def _location(cmd: Command, ctx: StepContext) -> Location:
    df = ctx.dockerfile
    return location_of(cmd.node, df.path, df.source_line(cmd.node.start_line))


def _display(cmd: Command, step: Step) -> str:
    """The text after `[stage i/n]`: RUN as written, the rest with expanded words."""
    if isinstance(cmd, RunCommand):
        text = f"{cmd.keyword} {_after_keyword(cmd.node.original)}".rstrip()
        if cmd.heredocs and len(cmd.cmd_line) == 1 and cmd.cmd_line[0].lstrip().startswith("<<"):
            lines = cmd.heredocs[0].content.strip().splitlines()
            if lines:
                text += f" ({lines[0]}{'...' if len(lines) > 1 else ''})"
        return text
    return " ".join([cmd.keyword, *step.flags, *step.args])


def _after_keyword(original: str) -> str:
    parts = original.strip().split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _step(cmd: Command, scope: Scope, ctx: StepContext) -> Step:
    expanded, variables = _expand(cmd, scope, ctx)
    args, flags = _words(expanded)
    return Step(
        line=cmd.node.start_line,
        kind=cmd.node.keyword,
        instruction=cmd.node.original,
        args=args,
        flags=flags,
        variables=variables,
        command=expanded,
    )


def _expand(cmd: Command, scope: Scope, ctx: StepContext) -> tuple[Command, list[Variable]]:
    """The command expanded at this point of the stage, and the variables a RUN sees.

    ARG and ENV also update `scope` (the next step sees them).
    """
    if isinstance(cmd, ArgCommand):
        values = []
        for name, default in cmd.args:
            value = declare_arg(
                scope, name, default, build_args=ctx.build_args, globals_=ctx.globals_,
                lexer=ctx.lexer,
            )  # fmt: skip
            values.append((name, value))
        return replace(cmd, args=values), []
    if isinstance(cmd, EnvCommand):
        return replace(cmd, pairs=apply_env(scope, cmd.pairs, ctx.lexer)), []
    expanded = cmd.expand(ScopeExpander(ctx.lexer, scope.env()))
    variables = run_variables(scope, ctx.build_args) if isinstance(cmd, RunCommand) else []
    return expanded, variables


def _words(cmd: Command) -> tuple[list[str], list[str]]:
    """(args, flags) as text, for progress names, the plan dump and history."""
    if isinstance(cmd, RunCommand):
        flags = [f"--mount={m.raw}" for m in cmd.mounts]
        flags += [f"--network={cmd.network}"] if cmd.network != "default" else []
        flags += [f"--security={cmd.security}"] if cmd.security != "sandbox" else []
        return list(cmd.cmd_line), flags
    if isinstance(cmd, CopyCommand | AddCommand):
        return copy_words(cmd), _copy_flags(cmd)
    if isinstance(cmd, ArgCommand):
        return [name if value is None else f"{name}={value}" for name, value in cmd.args], []
    if isinstance(cmd, EnvCommand | LabelCommand):
        return [f"{k}={v}" for k, v in cmd.pairs], []
    if isinstance(cmd, WorkdirCommand):
        return [cmd.path], []
    if isinstance(cmd, UserCommand):
        return [cmd.user], []
    if isinstance(cmd, StopSignalCommand):
        return [cmd.signal], []
    if isinstance(cmd, VolumeCommand):
        return list(cmd.volumes), []
    if isinstance(cmd, ExposeCommand):
        return list(cmd.ports), []
    # CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: kept as written.
    return list(cmd.node.args) or [_after_keyword(cmd.node.original)], []


def _copy_flags(cmd: CopyCommand | AddCommand) -> list[str]:
    flags: list[str] = []
    if isinstance(cmd, CopyCommand) and cmd.from_ is not None:
        flags.append(f"--from={cmd.from_}")
    for name, value in (("chown", cmd.chown), ("chmod", cmd.chmod)):
        if value is not None:
            flags.append(f"--{name}={value}")
    if cmd.link:
        flags.append("--link")
    if isinstance(cmd, CopyCommand) and cmd.parents:
        flags.append("--parents")
    flags += [f"--exclude={e}" for e in cmd.excludes]
    if isinstance(cmd, AddCommand):
        if cmd.checksum is not None:
            flags.append(f"--checksum={cmd.checksum}")
        if cmd.keep_git_dir:
            flags.append("--keep-git-dir")
        if cmd.unpack is not None:
            flags.append(f"--unpack={'true' if cmd.unpack else 'false'}")
    return flags
