"""`tty`: one line per finding, `file:line CODE severity: message`; colours on request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters._common import severity_word
from builder.lint.model import Severity

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

_COLORS: dict[Severity, str] = {
    Severity.ERROR: "\x1b[1m\x1b[91m",
    Severity.WARNING: "\x1b[1m\x1b[93m",
    Severity.INFO: "\x1b[92m",
    Severity.STYLE: "\x1b[96m",
}
_RESET = "\x1b[0m"


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    out: list[str] = []
    for result in files:
        err = result.parse_error
        if err is not None:
            # hadolint prints the parser's message on one line, with a trailing space
            out.append(
                f"{result.path}:{err.line}:{err.column} {err.message.replace(chr(10), ' ')} "
            )
        for f in result.findings:
            word = severity_word(f.severity)
            if options.color and f.severity in _COLORS:
                word = f"{_COLORS[f.severity]}{word}{_RESET}"
            out.append(f"{f.path}:{f.line} {f.code} {word}: {f.message}")
    return "".join(line + "\n" for line in out)
