"""`json`: one array of `{code, column, file, level, line, message}` objects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from builder.lint.formatters._common import compact_json, severity_word

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    items: list[dict[str, Any]] = []
    for result in files:
        for f in result.all_findings():
            items.append(
                {
                    "code": f.code,
                    "column": f.column,
                    "file": f.path,
                    "level": severity_word(f.severity),
                    "line": f.line,
                    "message": f.message,
                }
            )
    return compact_json(items)
