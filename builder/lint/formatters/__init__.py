"""Report formats, hadolint's: one module per format, each with `render(files, options)`.

Field names, nesting and severity words are hadolint's, so tools that read
hadolint's reports read these. The tool's own name (SARIF driver, SonarQube
engine, JUnit suite) is pybuild's.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters.options import FormatOptions

if TYPE_CHECKING:
    from builder.lint.results import FileResult

#: format name -> module in this package
MODULES: dict[str, str] = {
    "tty": "tty",
    "json": "json",
    "checkstyle": "checkstyle",
    "codeclimate": "codeclimate",
    "gitlab_codeclimate": "gitlab_codeclimate",
    "gnu": "gnu",
    "codacy": "codacy",
    "sonarqube": "sonarqube",
    "sarif": "sarif",
    "junit": "junit",
}


def render(files: Sequence[FileResult], fmt: str, options: FormatOptions | None = None) -> str:
    """The report of a lint run in one format."""
    if fmt not in MODULES:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(MODULES)}")
    module = importlib.import_module(f"{__name__}.{MODULES[fmt]}")
    text: str = module.render(files, options or FormatOptions())
    return text
