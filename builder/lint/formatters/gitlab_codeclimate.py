"""`gitlab_codeclimate`: GitLab Code Quality, a JSON array of Code Climate issues
with a `fingerprint`: the SHA-1 of the issue's own JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from builder.lint.formatters._common import compact_json
from builder.lint.formatters.codeclimate import issues

if TYPE_CHECKING:
    from builder.lint.formatters.options import FormatOptions
    from builder.lint.results import FileResult


def render(files: Sequence[FileResult], options: FormatOptions) -> str:
    out = []
    for issue in issues(files, options):
        digest = hashlib.sha1(compact_json(issue).encode("utf-8"), usedforsecurity=False)
        out.append({**issue, "fingerprint": digest.hexdigest()})
    return compact_json(out)
