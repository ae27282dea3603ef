"""UndefinedVar: variables must be defined before they are used.

BuildKit expands `$VAR` in ADD, COPY, ENV, LABEL, USER, VOLUME, WORKDIR,
STOPSIGNAL and ARG defaults with the stage's ARG and ENV values; an unknown
name silently becomes an empty string. RUN, CMD and ENTRYPOINT are left
alone: their shell expands variables at run time. An ARG declared before the
first FROM is only visible in a stage that declares it again.

A stage built `FROM` an earlier stage inherits that stage's ENV and ARG
values. A stage built from an image starts with the image's ENV when the
local store has the image (`builder/lint/images.py`; nothing is pulled),
else with only `PATH`: then a variable the image defines (`$PYTHON_VERSION`
in `python`) is reported. Skip the check for such a file with
`# check=skip=UndefinedVar`, or pull the image first.

Bad::

    FROM alpine
    COPY $SRC /app/

Good::

    FROM alpine
    ARG SRC=.
    COPY $SRC /app/
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import (
    NON_ENV_ARGS,
    StageState,
    arg_steps,
    docs_url,
    expand,
    expanded_words,
    global_args,
    suggest,
    walk_stages,
)

NAME = "UndefinedVar"


def _message(name: str, env: Mapping[str, str]) -> str:
    message = f"Usage of undefined variable '${name}'"
    hint = suggest(name, env)
    if hint:
        message += f" (did you mean ${hint}?)"
    return message


def _report(
    line: int, names: Iterable[str], env: Mapping[str, str], seen: set[str]
) -> Iterator[Violation]:
    for name in sorted(names):
        if name in NON_ENV_ARGS or name in seen:
            continue
        seen.add(name)
        yield Violation(line, _message(name, env))


def check(ctx: LintContext) -> Iterator[Violation]:
    gargs = global_args(ctx)
    df = ctx.dockerfile
    for _, steps in walk_stages(ctx, gargs):
        for step in steps:
            inst = step.inst
            seen: set[str] = set()
            if inst.keyword == "arg":
                state = StageState(dict(step.env), set(step.args))
                for arg in arg_steps(df, inst, state, gargs):
                    if arg.default is not None:
                        missing = arg.default.unmatched - arg.declared
                        yield from _report(inst.start_line, missing, arg.env, seen)
                continue
            unmatched: set[str] = set()
            for word in expanded_words(inst):
                unmatched |= expand(df, word, step.env).unmatched
            yield from _report(inst.start_line, unmatched - step.args, step.env, seen)


RULE = Rule(
    NAME, Severity.WARNING, "Variables should be defined before their use", check, docs_url(NAME)
)
