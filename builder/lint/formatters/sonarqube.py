"""`sonarqube`: SonarQube's generic external issues, `{"issues": [...]}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from builder.lint.formatters._common import TOOL_NAME, compact_json, report_path
from builder.lint.model import Severity

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

SEVERITIES: dict[Severity, str] = {
    Severity.ERROR: "CRITICAL",
    Severity.WARNING: "MAJOR",
    Severity.INFO: "MINOR",
    Severity.STYLE: "INFO",
    Severity.IGNORE: "INFO",
}


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    out: list[dict[str, Any]] = []
    for result in files:
        path = report_path(result.path, options.file_path_in_report)
        err = result.parse_error
        if err is not None:
            out.append(
                {
                    "engineId": TOOL_NAME,
                    "ruleId": "DL1000",
                    "severity": "BLOCKER",
                    "type": "BUG",
                    "primaryLocation": {
                        "message": err.message,
                        "filePath": path,
                        "textRange": {
                            "startLine": err.line,
                            "endLine": err.line,
                            "startColumn": err.column,
                            "endColumn": err.column,
                        },
                    },
                }
            )
        for f in result.findings:
            out.append(
                {
                    "engineId": TOOL_NAME,
                    "ruleId": f.code,
                    "severity": SEVERITIES[f.severity],
                    "type": "BUG" if f.severity == Severity.ERROR else "CODE_SMELL",
                    "primaryLocation": {
                        "message": f.message,
                        "filePath": path,
                        "textRange": {
                            "startLine": f.line,
                            "endLine": f.line,
                            "startColumn": f.column - 1,
                            "endColumn": f.column,
                        },
                    },
                }
            )
    return compact_json({"issues": out})
