"""DL3044: Do not refer to an environment variable within the ENV that defines it.

All the pairs of one ENV are expanded with the values from before the
ENV: `ENV A=1 B=$A` sets B to the old A (often empty), not to 1. Split the
ENV, or refer to a variable set earlier.

Fails:

    FROM debian:12
    ENV APP_HOME=/app APP_BIN=$APP_HOME/bin

Passes:

    FROM debian:12
    ENV APP_HOME=/app
    ENV APP_BIN=$APP_HOME/bin
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3044"
MESSAGE: Final = (
    "Do not refer to an environment variable within the same `ENV` statement where it is defined."
)


_NAME_CHARS: Final = re.compile(r"[A-Za-z0-9_]*")
_DOLLAR: Final = re.compile(r"\$")


def _name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def refers_to(name: str, text: str) -> bool:
    """`${name}` or `$name` not followed by a name character."""
    if "${" + name + "}" in text:
        return True
    return any(not rest[:1] or not _name_char(rest[0]) for rest in text.split("$" + name)[1:])


def references(text: str, names: Collection[str], longest: int) -> set[str]:
    """The names of `names` that `text` refers to (`refers_to`), in one pass over `text`.

    `names` must all be made of name characters, none longer than `longest`;
    the pass costs the text's length times at most `longest`.
    """
    found: set[str] = set()
    for match in _DOLLAR.finditer(text):
        start = match.end()
        run = _NAME_CHARS.match(text, start)
        if run is not None and run.group() in names:  # `$name`, not followed by a name char
            found.add(run.group())
        if text[start : start + 1] == "{":
            close = text.find("}", start + 1, start + 2 + longest)
            if close >= 0 and text[start + 1 : close] in names:  # `${name}`
                found.add(text[start + 1 : close])
    return found


def self_references(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Names of the ENV referred to by another value of the same ENV.

    Linear in the size of the ENV: each value is scanned once for the names it
    mentions, then a name counts when a value other than its own mentions it.
    """
    names = {name for name, _ in pairs}
    if not names:
        return []
    odd = {name for name in names if not name or not all(_name_char(ch) for ch in name)}
    plain = names - odd
    longest = max((len(name) for name in plain), default=0)
    refs = [references(value, plain, longest) for _, value in pairs]
    mentions: Counter[str] = Counter(name for found in refs for name in found)
    result = []
    for i, (name, _) in enumerate(pairs):
        if name in odd:  # rare: a name `$name` cannot end cleanly; check the slow way
            if any(refers_to(name, other) for j, (_, other) in enumerate(pairs) if j != i):
                result.append(name)
        elif mentions[name] - (name in refs[i]) > 0:
            result.append(name)
    return result


def check(ctx: LintContext) -> Iterator[Violation]:
    defined: set[str] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "env":
            pairs = c.pairs(inst)
            if any(name not in defined for name in self_references(pairs)):
                yield Violation(inst.start_line)
            defined.update(name for name, _ in pairs)
        elif inst.keyword == "arg":
            defined.add(c.arg_name(inst))


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
