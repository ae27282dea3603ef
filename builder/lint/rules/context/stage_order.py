"""PB1003: `COPY --from` / `RUN --mount=from=` must name an earlier stage.

BuildKit looks the name up among all stages (case-insensitively) or, for a
number, by index. A stage defined later, or the stage itself, is an error:
`cannot copy from stage "x", it needs to be defined before current stage`,
`cannot mount from stage`, or a circular dependency. A name that is no stage
at all is taken as an image and pulled; when it is a near miss of a stage
name (fewer than three edits, and not a common image name like `node`),
that is almost certainly a typo, and it is reported too.

Bad::

    FROM alpine AS final
    COPY --from=build /out /app
    FROM golang:1.22 AS build

Good::

    FROM golang:1.22 AS build
    FROM alpine AS final
    COPY --from=build /out /app
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import resolve_stage, suggest
from builder.lint.rules.context._support import (
    StageReference,
    context_dir,
    stage_references,
)

CODE = "PB1003"
#: Image names too common to be taken for a mistyped stage (BuildKit's list, and a few more).
COMMON_IMAGES = frozenset(
    {
        "alpine", "busybox", "centos", "debian", "fedora", "golang", "ubuntu",
        "node", "python", "nginx", "rust", "ruby", "php", "openjdk", "scratch",
    }
)  # fmt: skip


def _what(ref: StageReference) -> str:
    if ref.kind == "copy":
        return f"COPY --from={ref.name}"
    return f"RUN --mount from={ref.name}"


def check(ctx: LintContext) -> Iterator[Violation]:
    if context_dir(ctx) is None:
        return
    named = [stage.name for stage in ctx.stages if stage.name]
    for _, ref in stage_references(ctx):
        line = ref.inst.start_line
        what = _what(ref)
        index, found = resolve_stage(ctx, ref.name)
        if ref.name.isdigit() and not found:
            yield Violation(
                line,
                f"{what} names stage index {ref.name}, but the file has only "
                f"{len(ctx.stages)} stage(s); BuildKit fails with 'invalid stage index'",
            )
            continue
        if found and index is not None:
            target = ctx.stages[index]
            label = f"stage '{target.name}'" if target.name else f"stage {index}"
            if index == ref.stage:
                yield Violation(
                    line,
                    f"{what} names {label}, the stage it is in; BuildKit fails with a "
                    "circular dependency",
                )
            elif index > ref.stage:
                yield Violation(
                    line,
                    f"{what} names {label}, which is defined later (line "
                    f"{target.from_instruction.start_line}); BuildKit fails: a stage must be "
                    "defined before the instruction that uses it",
                )
            continue
        if any(ch in ref.name for ch in "/:@.$") or ref.name.lower() in COMMON_IMAGES:
            continue  # an image reference
        hint = suggest(ref.name.lower(), named)
        if hint is not None:
            yield Violation(
                line,
                f"{what}: no stage '{ref.name}' before line {line}; it will be pulled as an "
                f"image (did you mean '{hint}'?)",
            )


RULE = Rule(
    CODE,
    Severity.ERROR,
    "COPY --from / RUN --mount=from= names a stage that is not defined before it",
    check,
)
