"""Rule findings as JSON-ready data, the shape the lint rule tests and their snapshots use."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from builder.lint.model import LintContext, Rule


def findings(ctx: LintContext, rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """`{"code", "line", "message", "severity"}` per violation, by line, code and message."""
    found = [
        {
            "code": rule.code,
            "line": v.line,
            "message": v.message or rule.message,
            "severity": rule.severity.label,
        }
        for rule in rules
        for v in rule.check(ctx)
    ]
    return sorted(found, key=lambda f: (f["line"], f["code"], f["message"]))


def findings_json(ctx: LintContext, rules: Iterable[Rule]) -> str:
    return json.dumps(findings(ctx, rules), indent=2, ensure_ascii=False)
