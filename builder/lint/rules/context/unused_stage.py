"""PB1004: a stage the final stage never uses.

`docker build` builds the last stage and only the stages it depends on
(through FROM, `COPY --from` and `RUN --mount=from=`). Any other stage is
skipped unless named with `--target`: test or debug stages are fine, but an
unnamed unused stage can never be built, and a stage that was meant to feed
the final image but is not referenced is a bug.

Bad::

    FROM golang:1.22 AS build
    RUN go build -o /out/app .
    FROM alpine
    COPY app /usr/local/bin/

Good::

    FROM golang:1.22 AS build
    RUN go build -o /out/app .
    FROM alpine
    COPY --from=build /out/app /usr/local/bin/
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import global_args, resolve_stage, stage_views
from builder.lint.rules.context._support import context_dir, stage_references

CODE = "PB1004"


def dependencies(ctx: LintContext) -> dict[int, set[int]]:
    """For each stage, the earlier stages it needs."""
    deps: dict[int, set[int]] = {stage.index: set() for stage in ctx.stages}
    for view in stage_views(ctx, global_args(ctx)):
        if view.base_index is not None:
            deps[view.stage.index].add(view.base_index)
    for _, ref in stage_references(ctx):
        index, found = resolve_stage(ctx, ref.name, before=ref.stage)
        if found and index is not None:
            deps[ref.stage].add(index)
    return deps


def reachable(ctx: LintContext, target: int) -> set[int]:
    deps = dependencies(ctx)
    seen: set[int] = set()
    todo = [target]
    while todo:
        index = todo.pop()
        if index in seen:
            continue
        seen.add(index)
        todo.extend(deps.get(index, ()))
    return seen


def check(ctx: LintContext) -> Iterator[Violation]:
    if context_dir(ctx) is None or len(ctx.stages) < 2:
        return
    final = ctx.stages[-1]
    used = reachable(ctx, final.index)
    final_label = f"'{final.name}'" if final.name else f"stage {final.index}"
    for stage in ctx.stages:
        if stage.index in used:
            continue
        line = stage.from_instruction.start_line
        if stage.name:
            yield Violation(
                line,
                f"stage '{stage.name}' is not used by the final stage ({final_label}); it is "
                f"only built with --target {stage.name}",
            )
        else:
            yield Violation(
                line,
                f"stage {stage.index} is not used by the final stage ({final_label}) and has "
                "no name, so no --target can build it",
            )


RULE = Rule(CODE, Severity.INFO, "Stage is not used by the final stage", check)
