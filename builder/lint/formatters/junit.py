"""`junit`: JUnit XML, one `<testsuite>` per Dockerfile, one `<testcase>` per finding."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from builder import __version__
from builder.lint.formatters._common import (
    TOOL_NAME,
    element,
    report_path,
    severity_word,
    xml_text,
)

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult

TIME = "0.001"


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    now = options.now or datetime.now(UTC)
    suites: list[str] = []
    for result in files:
        path = report_path(result.path, options.file_path_in_report)
        cases: list[str] = []
        err = result.parse_error
        if err is not None:
            text = (
                f"Parse Error in {path}\nLine: {err.line}\nColumn: {err.column}\n"
                f"Parse Error: {err.pretty(result.path)}\n"
            )
            failure = element(
                "failure",
                {
                    "type": "error",
                    "message": f"parse error at line {err.line}, column {err.column}",
                },
                xml_text(text),
            )
            cases.append(
                element(
                    "testcase",
                    {"id": f"{TOOL_NAME}.error", "name": "DL1000", "time": TIME},
                    failure,
                )
            )
        for f in result.findings:
            word = severity_word(f.severity)
            text = (
                f"File: {path}\nLine: {f.line}\n"
                f"Category: {TOOL_NAME} - Dockerfile Static Analysis\n{word}: {f.message}\n"
            )
            failure = element(
                "failure", {"type": word, "message": f.message, "id": f.code}, xml_text(text)
            )
            cases.append(
                element("testcase", {"id": f"{TOOL_NAME}.rule.{f.code}", "time": TIME}, failure)
            )
        attrs = {
            "id": TOOL_NAME,
            "name": f"{TOOL_NAME} {__version__}",
            "time": TIME,
            "failures": str(len(cases)),
            "errors": "1" if err is not None else "0",
        }
        suites.append(element("testsuite", attrs, "".join(cases) if cases else None))
    root = element(
        "testsuites",
        {
            "id": now.strftime("%Y%m%d_%H%M%S"),
            "name": now.strftime(f"{TOOL_NAME} lint run at %Y-%m-%d %H:%M:%S"),
            "time": TIME,
        },
        "".join(suites),
    )
    return '<?xml version="1.0" encoding="UTF-8"?>' + root
