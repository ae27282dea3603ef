"""pybuild's Dockerfile linter: hadolint's rules and report formats, ShellCheck
for RUN scripts, and BuildKit's build checks.

The API CI tools use::

    from builder.lint import Source, lint, resolve_config

    config = resolve_config()               # .hadolint.yaml, HADOLINT_* as hadolint
    result = lint(["Dockerfile", Source("FROM alpine\\n", "inline")], config)
    for finding in result.findings:         # code, severity, message, path, line, column
        ...
    print(result.render("json"))            # any hadolint format
    raise SystemExit(result.exit_code)      # hadolint's exit status

Rules live in `builder.lint.rules` (see `builder.lint.model`); the engine is
`builder.lint.engine`, the configuration `builder.lint.config`.
"""

from __future__ import annotations

from builder.lint.config import FORMATS, ConfigError, LintConfig, PartialConfig
from builder.lint.config import resolve as resolve_config
from builder.lint.engine import (
    FileResult,
    LintInputError,
    LintResult,
    ParseFailure,
    RuleSet,
    Source,
    default_rules,
    lint,
    lint_text,
)
from builder.lint.model import Finding, Rule, Severity, Violation
from builder.lint.shellcheck import ShellcheckError

__all__ = [
    "FORMATS",
    "ConfigError",
    "FileResult",
    "Finding",
    "LintConfig",
    "LintInputError",
    "LintResult",
    "ParseFailure",
    "PartialConfig",
    "Rule",
    "RuleSet",
    "Severity",
    "ShellcheckError",
    "Source",
    "Violation",
    "default_rules",
    "lint",
    "lint_text",
    "resolve_config",
]
