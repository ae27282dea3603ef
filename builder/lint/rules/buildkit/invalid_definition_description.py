"""InvalidDefinitionDescription (experimental): describe stages and ARGs as `# name text`.

`docker build --call=outline` and `--call=targets` show the comment right
above a FROM ... AS or an ARG as its description when the comment starts with
the stage or ARG name. A comment there that does not is probably not meant as
a description: separate it with an empty line. Experimental in BuildKit: runs
only with `# check=experimental=InvalidDefinitionDescription` (or `all`).

Bad::

    # check=experimental=all
    # compiles the CLI
    FROM golang:1.22 AS build-cli

Good::

    # check=experimental=all
    # build-cli compiles the CLI
    FROM golang:1.22 AS build-cli
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import (
    arg_definitions,
    docs_url,
    experimental_enabled,
    preceding_comment,
)

NAME = "InvalidDefinitionDescription"


def check(ctx: LintContext) -> Iterator[Violation]:
    if not experimental_enabled(ctx, NAME):
        return
    df = ctx.dockerfile
    stage_froms = {id(stage.from_instruction): stage for stage in ctx.stages}
    for inst in df.instructions:
        if inst.keyword == "from":
            stage = stage_froms.get(id(inst))
            if stage is None or not stage.name:
                continue
            label, keys = "FROM", [stage.name]
        elif inst.keyword == "arg":
            label, keys = "ARG", [name for name, _ in arg_definitions(inst)]
        else:
            continue
        comment = preceding_comment(df, inst)
        if not keys or comment is None or comment.split(" ")[0] in keys:
            continue
        example = keys[0] if len(keys) == 1 else "<arg_key>"
        yield Violation(
            inst.start_line,
            f"Comment for {label} should follow the format: `# {example} <description>`",
        )


RULE = Rule(
    NAME,
    Severity.WARNING,
    "Comment for build stage or argument should follow the format: "
    "`# <arg/stage name> <description>`. If this is not intended to be a description "
    "comment, add an empty line or comment between the instruction and the comment.",
    check,
    docs_url(NAME),
)
