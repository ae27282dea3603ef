"""The stage graph and the build plan, following BuildKit's `dockerfile2llb`.

- A FROM names a stage when an *earlier* stage has that name (names are
  case-insensitive); `scratch` is the empty image; anything else is an image.
- `COPY --from=` and `RUN --mount=from=` accept a stage name, a stage index,
  or an image (not a stage name: `COPY --from=alpine` pulls `alpine`).
- Cycles are errors ("circular dependency detected on stage: X"), checked on
  every stage. Only the target (default: the last stage) and what it needs
  are built; since BuildKit dispatches them in file order, copying or
  mounting from a stage that comes later is an error too.
- Needed stages are grouped into waves (topological levels): the stages of
  one wave depend only on earlier waves, so they can run at the same time.
- With `base_image`, each needed stage FROM an image gets that image's
  environment and ONBUILD triggers (see `builder.plan.base_image`). A
  trigger's `COPY --from` / `RUN --mount=from` adds an edge like any other,
  which may make more stages needed; BuildKit loops the same way.
- Named contexts (`--build-context`, `contexts`) come first, as in buildx: a
  FROM or `--from` that names one uses it instead of a stage or an image of
  that name. An image context makes FROM an image base; a directory context
  a `context` base (an empty image holding the directory's files).
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.dockerfile.ast import Dockerfile, Instruction
from builder.dockerfile.commands import Command, CopyCommand, RunCommand, Stage
from builder.dockerfile.instructions import location_of, parse_stages
from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from builder.errors import ArgValueError, Location, PlanError, StageGraphError
from builder.image.platform import Platform, host_platform, parse_platform, platform_args
from builder.plan.args import (
    Scope,
    declare_global_arg,
    initial_globals,
    resolve_build_args,
    unused_build_args,
    unused_build_args_warning,
)
from builder.plan.base_image import image_scope, onbuild_commands
from builder.plan.expander import expansion_error
from builder.plan.model import BaseRef, BuildPlan, PlannedStage, Step
from builder.plan.named_contexts import context_name
from builder.plan.steps import StepContext, stage_steps

if TYPE_CHECKING:
    from builder.image.model import ImageConfig

__all__ = ["BaseImageLookup", "BaseRef", "BuildPlan", "PlannedStage", "Step", "plan"]

#: Gives the config of an image by its (expanded) name, or None when it is unknown.
#: (image name, platform of the stage) -> the image's config for that platform, or None
BaseImageLookup = Callable[[str, str], "ImageConfig | None"]

RESERVED_STAGE_NAMES = frozenset({"scratch", "context"})
_INDEX = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class _Edge:
    """`stage` needs `target` (a stage index) because of `command`."""

    source: int  #: the stage whose command makes the edge
    target: int
    command: Command
    kind: str  #: "copy" or "mount"
    ref: str  #: the reference as written
    mount_target: str | None = None


def plan(
    dockerfile: Dockerfile,
    *,
    target: str | None = None,
    build_args: Mapping[str, str | None] | None = None,
    platform: str | None = None,
    environ: Mapping[str, str] | None = None,
    build_platform: str | None = None,
    base_image: BaseImageLookup | None = None,
    contexts: Mapping[str, str | None] | None = None,
    step_prefix: str = "",
    first_vertex: int = 1,
) -> BuildPlan:
    """Plan a build: stages, their dependencies and steps, `--target` pruning, waves.

    `build_args` maps names to values; a None value is taken from `environ`
    (default: `os.environ`), like `docker build --build-arg NAME`.
    `platform` is the target platform (default: the host's), `build_platform`
    the one the build runs on (default: the host's).
    `base_image(name, platform)` gives the config of an external base image
    for the stage's platform (its `FROM --platform`, else `platform`) (None:
    unknown, plan the stage without it). It is called once for each needed
    stage FROM an image, never for `scratch`, stages or pruned stages; what
    it raises propagates. With it, stages start with the image's environment
    (stages FROM `scratch` with BuildKit's default PATH) and run its ONBUILD
    triggers first. `contexts` maps named build contexts (their short names,
    `builder.plan.named_contexts.context_name`) to an image reference, or to None
    for a directory; the executor reads a `--from` of such a name itself.
    `step_prefix` starts every progress name (a multi-platform build gives
    "linux/arm64 ": "[linux/arm64 2/4] RUN ..."), and vertices are numbered
    from `first_vertex`, so the graphs of several platforms share one display.
    Raises ParseError for invalid instructions and PlanError for everything
    that parses but cannot be built.
    """
    path = dockerfile.path
    meta_args, stages = parse_stages(dockerfile)
    if not stages:
        raise PlanError("dockerfile contains no stages to build", Location(path, 0))
    _check_stage_names(dockerfile, stages)
    contexts = dict(contexts or {})
    # unique, checked above; a stage a named context replaces is no longer found by name
    names = {s.name: s.index for s in stages if s.name is not None and s.name not in contexts}

    target_platform = _platform_option(platform, "platform")
    build_plat = _platform_option(build_platform, "build platform")
    args = resolve_build_args(build_args, os.environ if environ is None else environ)
    lexer = ShellLexer(escape=dockerfile.escape)
    globals_ = initial_globals(platform_args(target_platform, build_plat), args)
    for cmd in meta_args:
        for name, default in cmd.args:
            try:
                declare_global_arg(globals_, name, default, build_args=args, lexer=lexer)
            except ExpansionError as exc:
                raise expansion_error(exc, _loc(dockerfile, cmd.node)) from None

    warnings: list[str] = []
    bases = [
        _resolve_base(dockerfile, stages, names, i, globals_, lexer, warnings, contexts)
        for i in range(len(stages))
    ]
    platforms = [_stage_platform(dockerfile, s, globals_, lexer) for s in stages]
    target_index = _find_target(stages, target)
    edges, images = _edges(dockerfile, stages, names)
    deps = [sorted({e.target for e in edges[i]} | _base_dep(bases[i])) for i in range(len(stages))]
    _check_cycles(dockerfile, stages, edges)
    single = len(stages) == 1 and not any(images)  # BuildKit decides before reading triggers
    needed = _reachable(target_index, deps)
    configs: dict[int, ImageConfig] = {}
    triggers: dict[int, list[Command]] = {}
    if base_image is not None:
        stage_platforms = [p or str(target_platform) for p in platforms]
        needed = _load_base_images(
            dockerfile, stages, names, bases, target_index, base_image, edges, images, deps,
            configs, triggers, stage_platforms,
        )  # fmt: skip
    _check_order(dockerfile, stages, edges, needed)

    ctx = StepContext(
        dockerfile=dockerfile,
        lexer=lexer,
        build_args=args,
        globals_=globals_,
        vertices=itertools.count(first_vertex),
    )
    scopes: dict[int, Scope] = {}
    planned: list[PlannedStage] = []
    consumed = {name for cmd in meta_args for name, _ in cmd.args}
    for stage in stages:
        steps: list[Step] = []
        if stage.index in needed:
            base = bases[stage.index]
            if base.stage_index is not None:
                scope = scopes[base.stage_index].copy()
            else:
                scope = _starting_scope(
                    stage.index, base, configs, base_image, platforms, target_platform
                )
            prefix = step_prefix + ("" if single else f"{_display_name(stage)} ")
            steps = stage_steps(
                stage, base, platforms[stage.index], scope, ctx, prefix,
                triggers.get(stage.index, ()),
            )  # fmt: skip
            scopes[stage.index] = scope
            consumed.update(scope.declared)
        planned.append(
            PlannedStage(
                name=stage.name,
                index=stage.index,
                line=stage.node.start_line,
                base=bases[stage.index],
                platform=platforms[stage.index],
                steps=steps,
                depends_on=deps[stage.index],
                images=images[stage.index],
                needed=stage.index in needed,
            )
        )

    unused = unused_build_args(args, consumed)
    if unused:
        warnings.append(unused_build_args_warning(unused))
    return BuildPlan(
        path=path,
        stages=planned,
        target=target_index,
        waves=_waves(sorted(needed), deps),
        warnings=warnings,
        platform=str(target_platform),
        build_platform=str(build_plat),
        build_args=dict(sorted(args.items())),
        global_args=dict(sorted(globals_.items())),
    )


# --------------------------------------------------------------------------
# Helpers


def _loc(dockerfile: Dockerfile, node: Instruction) -> Location:
    return location_of(node, dockerfile.path, dockerfile.source_line(node.start_line))


def _display_name(stage: Stage) -> str:
    return stage.name if stage.name is not None else f"stage-{stage.index}"


def _platform_option(value: str | None, what: str) -> Platform:
    if value is None:
        return host_platform()
    try:
        return parse_platform(value)
    except ValueError as exc:
        raise PlanError(f"invalid {what} {value!r}: {exc}") from None


def _check_stage_names(dockerfile: Dockerfile, stages: list[Stage]) -> None:
    seen: dict[str, Stage] = {}
    for stage in stages:
        if stage.name is None:
            continue
        if stage.name in RESERVED_STAGE_NAMES:
            raise StageGraphError(
                f'Stage name should not use the same name as reserved stage "{stage.name}"',
                _loc(dockerfile, stage.node),
                hint="pick another name: `scratch` is the empty image, `context` the build context",
            )
        if stage.name in seen:
            first = seen[stage.name]
            raise StageGraphError(
                f'duplicate stage name "{stage.name}", stage names should be unique',
                _loc(dockerfile, stage.node),
                hint=f"first defined on line {first.node.start_line}",
            )
        seen[stage.name] = stage


def _resolve_base(
    dockerfile: Dockerfile,
    stages: list[Stage],
    names: Mapping[str, int],
    index: int,
    globals_: Mapping[str, str],
    lexer: ShellLexer,
    warnings: list[str],
    contexts: Mapping[str, str | None],
) -> BaseRef:
    stage = stages[index]
    try:
        name = lexer.expand_word(stage.base_name, globals_)
    except ExpansionError as exc:
        raise expansion_error(exc, _loc(dockerfile, stage.node)) from None
    if name == "":
        blank = ArgValueError if "$" in stage.base_name else PlanError
        raise blank(
            f"base name ({stage.base_name}) should not be blank",
            _loc(dockerfile, stage.node),
            hint="declare the ARG before the first FROM with a default, or pass --build-arg",
        )
    short = context_name(name)
    if short in contexts:
        image = contexts[short]
        return BaseRef("image", image) if image is not None else BaseRef("context", short)
    if name == "scratch":
        return BaseRef("scratch", name)
    found = names.get(name.lower())
    if found is not None and found < index:
        return BaseRef("stage", name.lower(), found)
    if found is not None:
        warnings.append(
            f"{dockerfile.path}:{stage.node.start_line}: FROM {name} names a stage defined "
            f"later (line {stages[found].node.start_line}); it is used as an image"
        )
    return BaseRef("image", name)


def _stage_platform(
    dockerfile: Dockerfile, stage: Stage, globals_: Mapping[str, str], lexer: ShellLexer
) -> str | None:
    if stage.platform is None:
        return None
    loc = _loc(dockerfile, stage.node)
    error = ArgValueError if "$" in stage.platform else PlanError
    try:
        value = lexer.expand_word(stage.platform, globals_)
    except ExpansionError as exc:
        message = f"failed to process arguments for platform: {exc}"
        raise expansion_error(exc, loc, message) from None
    if value == "":
        raise error(f"empty platform value from expression {stage.platform}", loc)
    try:
        return str(parse_platform(value))
    except ValueError as exc:
        raise error(f"failed to parse platform {stage.platform}: {exc}", loc) from None


def _find_target(stages: list[Stage], target: str | None) -> int:
    if target is None or target == "":
        return len(stages) - 1
    for stage in stages:
        if stage.name is not None and stage.name == target.lower():
            return stage.index
    names = [s.name for s in stages if s.name is not None]
    match = difflib.get_close_matches(target.lower(), names, n=1)
    if match:
        hint = f"did you mean {match[0]}?"
    else:
        hint = (
            f"stages: {', '.join(names)}" if names else "no stage has a name (FROM image AS name)"
        )
    raise PlanError(f'target stage "{target}" could not be found', hint=hint)


def _base_dep(base: BaseRef) -> set[int]:
    return {base.stage_index} if base.stage_index is not None else set()


def _edges(
    dockerfile: Dockerfile, stages: list[Stage], names: Mapping[str, int]
) -> tuple[list[list[_Edge]], list[list[str]]]:
    """Stage-to-stage edges from COPY --from / RUN --mount from, and the images they pull."""
    edges: list[list[_Edge]] = []
    images: list[list[str]] = []
    for stage in stages:
        stage_edges, stage_images = _command_edges(
            dockerfile, stages, names, stage.index, stage.commands
        )
        edges.append(stage_edges)
        images.append(stage_images)
    return edges, images


def _command_edges(
    dockerfile: Dockerfile,
    stages: list[Stage],
    names: Mapping[str, int],
    source: int,
    commands: Sequence[Command],
) -> tuple[list[_Edge], list[str]]:
    """The edges and images of some commands of stage `source`, in order."""
    edges: list[_Edge] = []
    images: list[str] = []
    for cmd in commands:
        refs: list[tuple[str, str, str | None]] = []
        if isinstance(cmd, CopyCommand) and cmd.from_ is not None:
            refs.append((cmd.from_, "copy", None))
        elif isinstance(cmd, RunCommand):
            refs += [
                (m.from_, "mount", m.target)
                for m in cmd.mounts
                if m.from_ is not None and m.type in ("bind", "cache")
            ]
        for ref, kind, mount_target in refs:
            index = _resolve_ref(dockerfile, stages, names, cmd, ref)
            if index is None:
                if ref not in images:
                    images.append(ref)
                continue
            edges.append(_Edge(source, index, cmd, kind, ref, mount_target))
    return edges, images


def _load_base_images(
    dockerfile: Dockerfile,
    stages: list[Stage],
    names: Mapping[str, int],
    bases: list[BaseRef],
    target: int,
    base_image: BaseImageLookup,
    edges: list[list[_Edge]],
    images: list[list[str]],
    deps: list[list[int]],
    configs: dict[int, ImageConfig],
    triggers: dict[int, list[Command]],
    platforms: list[str],
) -> set[int]:
    """Ask for the config of each needed stage's base image, once, and read its triggers.

    Triggers come before the stage's own commands, so their edges and images
    go first. A trigger's edge can make another stage needed (and its base
    image asked for): repeat until nothing new is needed. Updates `edges`,
    `images`, `deps`, `configs` and `triggers`; returns the needed stages.
    """
    asked: set[int] = set()
    added_edges = False
    while True:
        needed = _reachable(target, deps)
        todo = sorted(i for i in needed if i not in asked and bases[i].kind == "image")
        if not todo:
            break
        for index in todo:
            asked.add(index)
            config = base_image(bases[index].name, platforms[index])
            if config is None:
                continue
            configs[index] = config
            texts = config.config.on_build or []
            if not texts:
                continue
            at = _loc(dockerfile, stages[index].node)
            commands = onbuild_commands(texts, image=bases[index].name, at=at)
            triggers[index] = commands
            new_edges, new_images = _command_edges(dockerfile, stages, names, index, commands)
            edges[index] = new_edges + edges[index]
            images[index] = list(dict.fromkeys(new_images + images[index]))
            deps[index] = sorted(set(deps[index]) | {e.target for e in new_edges})
            added_edges = added_edges or bool(new_edges)
    if added_edges:
        _check_cycles(dockerfile, stages, edges)
    return needed


def _starting_scope(
    index: int,
    base: BaseRef,
    configs: Mapping[int, ImageConfig],
    base_image: BaseImageLookup | None,
    platforms: list[str | None],
    target_platform: Platform,
) -> Scope:
    """The ARG/ENV scope of a stage not FROM another stage, right after its FROM."""
    if base_image is None:
        return Scope()
    config = configs.get(index)
    if config is not None:
        return image_scope(config.config.env, config.os or target_platform.os)
    if base.kind in ("scratch", "context"):  # BuildKit's empty image has the default PATH
        os_name = (platforms[index] or str(target_platform)).split("/", 1)[0]
        return image_scope([], os_name)
    return Scope()  # an image nobody knows: no data to plan with


def _resolve_ref(
    dockerfile: Dockerfile, stages: list[Stage], names: Mapping[str, int], cmd: Command, ref: str
) -> int | None:
    """A `--from` value as a stage index, or None for an image."""
    if "$" in ref:
        raise PlanError(
            "'from' doesn't support variable expansion, define alias stage instead",
            _loc(dockerfile, cmd.node),
        )
    if _INDEX.match(ref):
        index = int(ref)
        if not 0 <= index < len(stages):
            raise PlanError(
                f"invalid stage index {index}",
                _loc(dockerfile, cmd.node),
                hint=f"this Dockerfile has stages 0 to {len(stages) - 1}",
            )
        return index
    return names.get(ref.lower())


def _check_cycles(dockerfile: Dockerfile, stages: list[Stage], edges: list[list[_Edge]]) -> None:
    """Raise on the first cycle found, visiting stages in file order like BuildKit."""
    found = _find_cycle(stages, edges)
    if found is None:
        return
    closing, path = found
    start = next(i for i, e in enumerate(path) if e.source == closing)
    cycle = path[start:]
    names = [_display_name(stages[closing])] + [_display_name(stages[e.target]) for e in cycle]
    first = cycle[0]
    raise StageGraphError(
        f"circular dependency detected on stage: {_display_name(stages[closing])}",
        _loc(dockerfile, first.command.node),
        hint="cycle: " + " -> ".join(names),
    )


def _find_cycle(stages: list[Stage], edges: list[list[_Edge]]) -> tuple[int, list[_Edge]] | None:
    """Depth-first search in file order, with an explicit stack (any number of stages):
    the stage a cycle closes on and the edges walked from the search's start to it."""
    visited: set[int] = set()
    for stage in stages:
        if stage.index in visited:
            continue
        visited.add(stage.index)
        on_path = {stage.index}
        path: list[_Edge] = []  # the edges from stack[0] to stack[-1]
        stack = [(stage.index, iter(edges[stage.index]))]
        while stack:
            index, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                stack.pop()
                on_path.discard(index)
                if path:
                    path.pop()
                continue
            if edge.target in on_path:
                return edge.target, [*path, edge]
            if edge.target in visited:
                continue
            visited.add(edge.target)
            on_path.add(edge.target)
            path.append(edge)
            stack.append((edge.target, iter(edges[edge.target])))
    return None


def _reachable(target: int, deps: list[list[int]]) -> set[int]:
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index not in seen:
            seen.add(index)
            todo.extend(deps[index])
    return seen


def _check_order(
    dockerfile: Dockerfile, stages: list[Stage], edges: list[list[_Edge]], needed: set[int]
) -> None:
    """BuildKit builds needed stages in file order: a source must come first."""
    for stage in stages:
        if stage.index not in needed:
            continue
        for edge in edges[stage.index]:
            if edge.target <= stage.index:
                continue
            later = _display_name(stages[edge.target])
            if edge.kind == "copy":
                message = (
                    f'cannot copy from stage "{edge.ref}", it needs to be defined before '
                    f'current stage "{_display_name(stage)}"'
                )
            else:
                message = (
                    f'cannot mount from stage "{edge.ref}" to "{edge.mount_target}", '
                    "stage needs to be defined before current command"
                )
            raise StageGraphError(
                message,
                _loc(dockerfile, edge.command.node),
                hint=f"move stage {later} (line {stages[edge.target].node.start_line}) "
                "above this one",
            )


def _waves(needed: list[int], deps: list[list[int]]) -> list[list[int]]:
    """Topological levels: a stage's level is one more than its deepest dependency's."""
    level: dict[int, int] = {}
    for index in needed:  # dependencies always come first (checked by _check_order)
        level[index] = 1 + max((level[d] for d in deps[index]), default=-1)
    waves: list[list[int]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for index in needed:
        waves[level[index]].append(index)
    return waves
