"""DL3042: Avoid use of cache directory with pip.

pip keeps downloaded wheels in ~/.cache/pip, which then stays in the layer.
Use `--no-cache-dir`, set `PIP_NO_CACHE_DIR` (ENV in the stage or the
stage it builds on, or in the RUN itself), or put the cache on a cache
mount. pipx and pipenv are not reported.

Fails:

    FROM python:3.12
    RUN pip install flask==3.0.3

Passes:

    FROM python:3.12
    RUN pip install --no-cache-dir flask==3.0.3
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3042"
MESSAGE: Final = "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`"
TRUTHY: Final = ("1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES")


def _wrapper(cmd: shell.Command, tool: str) -> bool:
    return tool in cmd.name or (
        cmd.name.startswith("python") and shell.contains_run(cmd.args, ("-m", tool))
    )


def forgot_no_cache(cmd: shell.Command) -> bool:
    return (
        shell.is_pip_install(cmd)
        and "--no-cache-dir" not in cmd.args
        and not _wrapper(cmd, "pipx")
        and not _wrapper(cmd, "pipenv")
    )


def _set_in_script(text: str) -> bool:
    at = text.find("PIP_NO_CACHE_DIR=")
    return at >= 0 and text[at + len("PIP_NO_CACHE_DIR=") :].startswith(TRUTHY)


def _check(sequence: Sequence[Instruction]) -> Iterator[Violation]:
    no_cache = c.InheritedStageFlag()  # PIP_NO_CACHE_DIR set in the stage
    for inst in sequence:
        if inst.keyword == "from":
            no_cache.enter(inst)
        elif inst.keyword == "env":
            if any(k == "PIP_NO_CACHE_DIR" and v in TRUTHY for k, v in c.pairs(inst)):
                no_cache.set()
        elif inst.keyword == "run":
            if no_cache.is_set():
                continue
            if _set_in_script(c.script_text(inst)) or c.has_cache_mount_with(inst, ".cache/pip"):
                continue
            if not c.no_run_command(inst, forgot_no_cache):
                yield Violation(inst.start_line)


def check(ctx: LintContext) -> Iterator[Violation]:
    for sequence in c.with_onbuild(ctx):
        yield from _check(sequence)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
