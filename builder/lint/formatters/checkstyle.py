"""`checkstyle`: Checkstyle 4.3 XML, one `<file>` per Dockerfile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters._common import element, report_path, severity_word

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    body: list[str] = []
    for result in files:
        path = report_path(result.path, options.file_path_in_report)
        errors: list[str] = []
        err = result.parse_error
        if err is not None:
            # hadolint gives a parse error no `source`
            attrs = {"line": str(err.line), "column": str(err.column), "severity": "error"}
            errors.append(element("error", {**attrs, "message": err.pretty(path)}))
        for f in result.findings:
            errors.append(
                element(
                    "error",
                    {
                        "line": str(f.line),
                        "column": str(f.column),
                        "severity": severity_word(f.severity),
                        "message": f.message,
                        "source": f.code,
                    },
                )
            )
        body.append(element("file", {"name": path}, "".join(errors) if errors else None))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><checkstyle version="4.3">'
        + "".join(body)
        + "</checkstyle>"
    )
