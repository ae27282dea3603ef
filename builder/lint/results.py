"""What linting one Dockerfile gives: its findings, or why it did not parse.

The engine makes these and the report formatters read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from builder.lint.model import Finding, Severity

PARSE_ERROR_CODE = "DL1000"


@dataclass(frozen=True)
class ParseFailure:
    """Why a Dockerfile did not parse (reported as DL1000)."""

    line: int
    column: int
    message: str  #: "unexpected ...\n<what the parser says>"
    source_line: str | None = None

    def pretty(self, path: str) -> str:
        """The error with the source line and a caret, ending with a newline."""
        gutter = " " * len(str(self.line))
        parts = [f"{path}:{self.line}:{self.column}:"]
        if self.source_line is not None:
            parts += [
                f"{gutter} |",
                f"{self.line} | {self.source_line}",
                f"{gutter} | {' ' * (self.column - 1)}^",
            ]
        parts.append(self.message)
        return "\n".join(parts) + "\n"

    def finding(self, path: str) -> Finding:
        return Finding(PARSE_ERROR_CODE, Severity.ERROR, self.message, path, self.line, self.column)


@dataclass
class FileResult:
    """The outcome for one Dockerfile."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    parse_error: ParseFailure | None = None

    def all_findings(self) -> list[Finding]:
        """The findings, a parse error first as a DL1000 finding."""
        head = [self.parse_error.finding(self.path)] if self.parse_error else []
        return head + self.findings

    def failed(self, threshold: Severity) -> bool:
        """hadolint's rule: a parse error, or a finding at or above the threshold."""
        if self.parse_error is not None:
            return True
        return any(f.severity >= threshold for f in self.findings)
