"""The typed error of Go templates: parsing and executing."""

from __future__ import annotations

from builder.errors import UsageError


class TemplateError(UsageError):
    """A template that does not parse, or fails while running (exit code 2)."""
