"""`sarif`: SARIF 2.1.0, one run with every finding as a result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from builder import __version__
from builder.lint.formatters._common import TOOL_FULL_NAME, TOOL_NAME, compact_json
from builder.lint.model import Severity

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

SCHEMA = "http://json.schemastore.org/sarif-2.1.0"


def _level(severity: Severity) -> str:
    # SARIF has three levels; info and style are both notes
    if severity == Severity.ERROR:
        return "error"
    if severity == Severity.WARNING:
        return "warning"
    return "note"


def _result(
    code: str, level: str, message: str, path: str, line: int, column: int
) -> dict[str, Any]:
    language = "sh" if code.startswith("SC") else "dockerfile"
    return {
        "ruleId": code,
        "level": level,
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": path},
                    "region": {
                        "startLine": line,
                        "endLine": line,
                        "startColumn": column,
                        "endColumn": column,
                        "sourceLanguage": language,
                    },
                }
            }
        ],
    }


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    results: list[dict[str, Any]] = []
    for result in files:
        err = result.parse_error
        if err is not None:
            results.append(
                _result("DL1000", "error", err.message, result.path, err.line, err.column)
            )
        for f in result.findings:
            results.append(_result(f.code, _level(f.severity), f.message, f.path, f.line, f.column))
    return compact_json(
        {
            "version": "2.1.0",
            "$schema": SCHEMA,
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": TOOL_NAME,
                            "fullName": TOOL_FULL_NAME,
                            "version": __version__,
                            "shortDescription": {
                                "text": "Dockerfile linter: hadolint's rules, ShellCheck, "
                                "BuildKit's build checks"
                            },
                        }
                    },
                    "results": results,
                    "defaultSourceLanguage": "dockerfile",
                }
            ],
        }
    )
