"""`gnu`: GNU error format, `hadolint:file:line: CODE severity: message`.

The `hadolint:` program prefix is kept so that existing error-format
patterns (editors, reviewdog) match pybuild's output too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters._common import severity_word

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

PROGRAM = "hadolint"


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    out: list[str] = []
    for result in files:
        err = result.parse_error
        if err is not None:
            message = err.message.replace("\n", " ")
            out.append(f"{PROGRAM}:{result.path}:{err.line}:{err.column}: {message} ")
        for f in result.findings:
            out.append(
                f"{PROGRAM}:{f.path}:{f.line}: {f.code} {severity_word(f.severity)}: {f.message}"
            )
    return "".join(line + "\n" for line in out)
