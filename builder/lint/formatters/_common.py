"""Helpers the formats share."""

from __future__ import annotations

import json
from typing import Any

from builder.lint.model import Severity

TOOL_NAME = "pybuild"
TOOL_FULL_NAME = "pybuild lint (hadolint-compatible Dockerfile linter)"


def compact_json(value: Any) -> str:
    """JSON the way hadolint (aeson) writes it: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def severity_word(severity: Severity) -> str:
    """`error`, `warning`, `info`, `style` ('' for ignore, as hadolint)."""
    return "" if severity == Severity.IGNORE else severity.label


def xml_attr(value: str) -> str:
    """Escape an XML attribute value (double-quoted)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def xml_text(value: str) -> str:
    """Escape XML character data."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def element(name: str, attrs: dict[str, str], content: str | None = None) -> str:
    """An XML element, attributes in name order (as hadolint's XML library writes them)."""
    rendered = "".join(f' {k}="{xml_attr(v)}"' for k, v in sorted(attrs.items()))
    if content is None:
        return f"<{name}{rendered}/>"
    return f"<{name}{rendered}>{content}</{name}>"


def report_path(path: str, override: str | None) -> str:
    return override if override is not None else path
