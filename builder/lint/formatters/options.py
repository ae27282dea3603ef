"""The options every report format takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FormatOptions:
    color: bool = False  #: tty: ANSI colours
    #: the path printed instead of the real one (checkstyle, codeclimate,
    #: gitlab_codeclimate, sonarqube, junit), as hadolint's --file-path-in-report
    file_path_in_report: str | None = None
    now: datetime | None = None  #: junit's timestamp; None: the current time (UTC)
