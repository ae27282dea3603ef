"""`codacy`: one `{filename, line, message, patternId}` JSON object per finding, back to back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters._common import compact_json

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    out: list[str] = []
    for result in files:
        err = result.parse_error
        if err is not None:
            out.append(
                compact_json(
                    {
                        "filename": result.path,
                        "line": err.line,
                        "message": err.pretty(result.path),
                        "patternId": "DL1000",
                    }
                )
            )
        for f in result.findings:
            out.append(
                compact_json(
                    {"filename": f.path, "line": f.line, "message": f.message, "patternId": f.code}
                )
            )
    return "".join(out)
