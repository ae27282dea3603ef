"""PB1005: an ARG that nothing uses.

An ARG before the first FROM is only visible to FROM lines and to stages
that declare it again (`ARG NAME` with no value); an ARG inside a stage is
visible to the instructions after it (RUN scripts included, as `$NAME` or
`${NAME}`) and to stages built `FROM` that stage. CMD, ENTRYPOINT,
HEALTHCHECK and ONBUILD run later, where ARG values do not exist: a
reference there is reported as such.

Some ARGs are read by the programs a RUN starts rather than written in the
script, and count as used when a RUN follows: `DEBIAN_FRONTEND`, proxy
variables, and the settings of common tools (`PIP_*`, `NPM_CONFIG_*`,
`GOPROXY`, `CGO_ENABLED`, `CARGO_*`, `NODE_ENV`...). ARGs BuildKit reads
itself (`BUILDKIT_*`, `SOURCE_DATE_EPOCH`) always count as used.

Bad::

    FROM alpine
    ARG VERSION=1.2
    RUN wget https://example.com/tool.tgz

Good::

    FROM alpine
    ARG VERSION=1.2
    RUN wget https://example.com/tool-${VERSION}.tgz
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import arg_definitions, global_args, stage_views
from builder.lint.rules.context._support import context_dir, reference_pattern

CODE = "PB1005"

_RUNTIME = frozenset({"cmd", "entrypoint", "healthcheck", "onbuild"})
_ENV_CONSUMED = re.compile(
    r"(?i)\A(?:DEBIAN_FRONTEND|(?:HTTPS?|FTP|NO|ALL)_PROXY|CGO_ENABLED|GO(?:OS|ARCH|ARM|AMD64|FLAGS"
    r"|PROXY|PRIVATE|NOSUMDB|SUMDB|CACHE|PATH|TOOLCHAIN|MODCACHE|EXPERIMENT)|NODE_ENV|NODE_OPTIONS"
    r"|PYTHON[A-Z]+|MAVEN_OPTS|GRADLE_OPTS|JAVA_TOOL_OPTIONS|MAKEFLAGS|C(?:XX)?FLAGS|LDFLAGS|CC|CXX"
    r"|RUSTFLAGS|TZ|LANG|LC_ALL|(?:PIP|PIPENV|POETRY|UV|NPM_CONFIG|YARN|CARGO|RUSTUP|BUNDLE"
    r"|COMPOSER|CONDA)_[A-Z0-9_]*)\Z"
)


def _always_used(name: str) -> bool:
    return name.startswith("BUILDKIT_") or name == "SOURCE_DATE_EPOCH"


def _text(inst: Instruction) -> str:
    return inst.original + "".join("\n" + doc.content for doc in inst.heredocs)


def _meta_unused(ctx: LintContext) -> Iterator[Violation]:
    escape = ctx.dockerfile.escape
    stage_args = [
        inst for stage in ctx.stages for inst in stage.instructions if inst.keyword == "arg"
    ]
    for position, inst in enumerate(ctx.meta_args):
        for name, _ in arg_definitions(inst):
            if _always_used(name):
                continue
            pattern = reference_pattern(name, escape)
            later_meta = ctx.meta_args[position + 1 :]
            if any(pattern.search(stage.from_instruction.original) for stage in ctx.stages):
                continue
            if any(pattern.search(other.original) for other in later_meta):
                continue
            if any(
                arg_name == name and raw is None
                for other in stage_args
                for arg_name, raw in arg_definitions(other)
            ):
                continue
            yield Violation(
                inst.start_line,
                f"ARG {name} is declared before the first FROM, but no FROM line uses it and "
                "no stage declares it again (only FROM lines see such an ARG)",
            )


def _descendants(ctx: LintContext) -> dict[int, list[int]]:
    """For each stage, the stages built on it (directly or not), in file order."""
    views = stage_views(ctx, global_args(ctx))
    parents = {view.stage.index: view.base_index for view in views}
    out: dict[int, list[int]] = {view.stage.index: [] for view in views}
    for view in views:
        parent = parents[view.stage.index]
        while parent is not None:
            out[parent].append(view.stage.index)
            parent = parents[parent]
    return out


def check(ctx: LintContext) -> Iterator[Violation]:
    if context_dir(ctx) is None:
        return
    yield from _meta_unused(ctx)
    escape = ctx.dockerfile.escape
    descendants = _descendants(ctx)
    for stage in ctx.stages:
        inherited = [
            inst for child in descendants[stage.index] for inst in ctx.stages[child].instructions
        ]
        for position, inst in enumerate(stage.instructions):
            if inst.keyword != "arg":
                continue
            later = stage.instructions[position + 1 :] + inherited
            definitions = arg_definitions(inst)
            for index, (name, _) in enumerate(definitions):
                if _always_used(name):
                    continue
                pattern = reference_pattern(name, escape)
                runtime_use: Instruction | None = None
                used = any(
                    raw is not None and pattern.search(raw) for _, raw in definitions[index + 1 :]
                )
                for other in [] if used else later:
                    if not pattern.search(_text(other)):
                        continue
                    if other.keyword in _RUNTIME:
                        runtime_use = runtime_use or other
                        continue
                    used = True
                    break
                if used:
                    continue
                if _ENV_CONSUMED.match(name) and any(other.keyword == "run" for other in later):
                    continue
                if runtime_use is not None:
                    yield Violation(
                        inst.start_line,
                        f"ARG {name} is only referenced by {runtime_use.written_keyword.upper()} "
                        f"on line {runtime_use.start_line}, which runs in the container where "
                        "ARG values do not exist; use ENV to keep the value",
                    )
                else:
                    yield Violation(inst.start_line, f"ARG {name} is declared but never used")


RULE = Rule(CODE, Severity.INFO, "ARG is declared but never used", check)
