"""hadolint's comment pragmas.

- `# hadolint ignore=DL3008,SC2086` ignores those rules on the line right
  below the comment (the instruction that starts there). A blank line or
  another comment in between breaks the link, as in hadolint.
- `# hadolint global ignore=DL3003` ignores them in the whole file.
- `# hadolint shell=bash` tells ShellCheck which shell the RUN scripts are
  for: before the first FROM it holds for every stage, inside a stage until
  the next FROM (a SHELL instruction after it wins).

A comment may follow a pragma (`# hadolint ignore=DL3008 # pinned elsewhere`).
Rule names are hadolint's (`DL3008`, `SC2086`); pybuild also accepts
BuildKit check names (`StageNameCasing`). One bad name makes the whole pragma
invalid, as in hadolint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from builder.dockerfile.ast import Comment

_SP = r"[ \t]"
_INLINE_COMMENT = rf"{_SP}*(?:#.*)?"
_NAME = r"[A-Za-z0-9]+"
_IGNORE_RE = re.compile(
    rf"{_SP}*hadolint{_SP}+(global{_SP}+)?ignore{_SP}*={_SP}*"
    rf"({_NAME}(?:{_SP}*,{_SP}*{_NAME})*){_INLINE_COMMENT}"
)
_SPLIT_RE = re.compile(rf"{_SP}*,{_SP}*")
_SHELL_RE = re.compile(rf"{_SP}*hadolint{_SP}+shell{_SP}*={_SP}*([^ \t\n]+){_INLINE_COMMENT}")
_HADOLINT_NAME = re.compile(r"[DLSC0-9]+")
_CHECK_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def _valid_name(name: str) -> bool:
    return bool(_HADOLINT_NAME.fullmatch(name) or _CHECK_NAME.fullmatch(name))


def _parse(text: str, want_global: bool) -> list[str] | None:
    m = _IGNORE_RE.fullmatch(text)
    if m is None or bool(m.group(1)) != want_global:
        return None
    names = _SPLIT_RE.split(m.group(2))
    if not all(_valid_name(n) for n in names):
        return None
    return names


def parse_ignore_pragma(text: str) -> list[str] | None:
    """`hadolint ignore=DL3008, SC2086` (comment text after `#`) -> the rule names."""
    return _parse(text, want_global=False)


def parse_global_ignore_pragma(text: str) -> list[str] | None:
    """`hadolint global ignore=DL3003` -> the rule names."""
    return _parse(text, want_global=True)


def parse_shell_pragma(text: str) -> str | None:
    """`hadolint shell=powershell` -> "powershell"."""
    m = _SHELL_RE.fullmatch(text)
    return m.group(1) if m else None


@dataclass
class Pragmas:
    """The pragmas of one Dockerfile."""

    #: line -> rules ignored for findings on that line
    ignored: dict[int, set[str]] = field(default_factory=dict)
    global_ignored: set[str] = field(default_factory=set)
    #: (comment line, shell), in file order
    shells: list[tuple[int, str]] = field(default_factory=list)

    def is_ignored(self, code: str, line: int) -> bool:
        if code in self.global_ignored:
            return True
        at_line = self.ignored.get(line)
        return at_line is not None and code in at_line


def collect(comments: Iterable[Comment]) -> Pragmas:
    """Read every pragma of a Dockerfile from its comments."""
    pragmas = Pragmas()
    for comment in comments:
        text = comment.text
        if "hadolint" not in text:
            continue
        names = parse_ignore_pragma(text)
        if names:
            pragmas.ignored.setdefault(comment.line + 1, set()).update(names)
            continue
        names = parse_global_ignore_pragma(text)
        if names:
            pragmas.global_ignored.update(names)
            continue
        shell = parse_shell_pragma(text)
        if shell:
            pragmas.shells.append((comment.line, shell))
    return pragmas
