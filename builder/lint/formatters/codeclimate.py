"""`codeclimate`: Code Climate issues, each JSON object followed by a NUL byte."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from builder.lint.formatters._common import compact_json, report_path
from builder.lint.model import Severity

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

SEVERITIES: dict[Severity, str] = {
    Severity.ERROR: "blocker",
    Severity.WARNING: "major",
    Severity.INFO: "info",
    Severity.STYLE: "minor",
    Severity.IGNORE: "",
}


def issues(files: Sequence[FileResult], options: FormatOptions) -> list[dict[str, Any]]:
    """The issues of all files, without fingerprints."""
    out: list[dict[str, Any]] = []
    for result in files:
        path = report_path(result.path, options.file_path_in_report)
        err = result.parse_error
        if err is not None:
            pos = {"line": err.line, "column": err.column}
            out.append(
                {
                    "type": "issue",
                    "check_name": "DL1000",
                    "description": err.pretty(result.path),
                    "categories": ["Bug Risk"],
                    "location": {"path": path, "positions": {"begin": pos, "end": pos}},
                    "severity": SEVERITIES[Severity.ERROR],
                }
            )
        for f in result.findings:
            out.append(
                {
                    "type": "issue",
                    "check_name": f.code,
                    "description": f.message,
                    "categories": ["Bug Risk"],
                    "location": {"path": path, "lines": {"begin": f.line, "end": f.line}},
                    "severity": SEVERITIES[f.severity],
                }
            )
    return out


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    return "".join(compact_json(issue) + "\0" for issue in issues(files, options))
