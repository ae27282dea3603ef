"""Label values and the label schema (DL3049 to DL3058).

The validators follow the libraries hadolint uses, as far as they matter
for label values:

- url: an absolute URI as RFC 3986 defines it (`Network.URI.parseURI`):
  a scheme, then characters of the URI grammar only, `%` escapes complete;
- rfc3339: `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)`, `T` and `Z` in either
  case, a real calendar date, seconds up to 60, surrounding blanks allowed;
- semver: `MAJOR.MINOR.PATCH[-pre][+build]` (leading zeros allowed);
- hash: a short (7) or full (40) lower-case hexadecimal git hash;
- spdx: one SPDX license identifier (see `_spdx`);
- email: an RFC 5322 address (`email-validate`): dot-atom or quoted local
  part, host-name or `[literal]` domain, comments and blanks around parts.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from builder.lint.model import LintContext, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint._spdx import LICENSE_IDS

# -- URL (RFC 3986) ------------------------------------------------------------

_UNRESERVED: Final = r"A-Za-z0-9\-._~"
_SUB_DELIMS: Final = r"!$&'()*+,;="
_PCT: Final = r"%[0-9A-Fa-f]{2}"
_PCHAR: Final = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SEGMENT: Final = rf"{_PCHAR}*"
_SEGMENT_NZ: Final = rf"{_PCHAR}+"
_USERINFO: Final = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME: Final = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_IP_LITERAL: Final = r"\[(?P<ip>[^\]\[/?#@]*)\]"
_AUTHORITY: Final = rf"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"
_HIER: Final = (
    rf"(?://{_AUTHORITY}(?:/{_SEGMENT})*"
    rf"|/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"
    rf"|{_SEGMENT_NZ}(?:/{_SEGMENT})*"
    r"|)"
)
_QUERY: Final = rf"(?:{_PCHAR}|[/?])*"
URI_RE: Final = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:{_HIER}(?:\?{_QUERY})?(?:#{_QUERY})?")
_IPVFUTURE_RE: Final = re.compile(rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")


def is_url(value: str) -> bool:
    match = URI_RE.fullmatch(value)
    if match is None:
        return False
    literal = match.group("ip")
    if literal is None:
        return True
    if _IPVFUTURE_RE.fullmatch(literal):
        return True
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return "%" not in literal


# -- RFC 3339 ------------------------------------------------------------------

RFC3339_RE: Final = re.compile(
    r"\s*(-?\d+)-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d*)?(?:[Zz]|[+-]\d\d:?\d\d)\s*"
)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_rfc3339(value: str) -> bool:
    match = RFC3339_RE.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return False
    days = calendar.monthrange(2000 if _leap(year) else 2001, month)[1]
    return 1 <= day <= days and hour <= 23 and minute <= 59 and second <= 60


# -- semantic versions, git hashes, SPDX ----------------------------------------

_IDENTIFIERS: Final = r"(?:[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
SEMVER_RE: Final = re.compile(rf"\d+\.\d+\.\d+(?:-{_IDENTIFIERS})?(?:\+{_IDENTIFIERS})?")
GIT_HASH_RE: Final = re.compile(r"[0-9a-f]{7}|[0-9a-f]{40}")


def is_semver(value: str) -> bool:
    return SEMVER_RE.fullmatch(value) is not None


def is_git_hash(value: str) -> bool:
    return GIT_HASH_RE.fullmatch(value) is not None


def is_spdx(value: str) -> bool:
    return value in LICENSE_IDS


# -- e-mail (RFC 5322 addr-spec) ---------------------------------------------------

_ATEXT: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
)
_LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_WSP: Final = frozenset(" \t\r\n")


class _Email:
    """Recursive descent over one address; every method returns the new position or -1."""

    def __init__(self, text: str) -> None:
        self.s = text

    def cfws(self, i: int) -> int:
        s = self.s
        while i < len(s):
            if s[i] in _WSP:
                i += 1
            elif s[i] == "(":
                i = self.comment(i)
                if i < 0:
                    return -1
            else:
                break
        return i

    def comment(self, i: int) -> int:
        s = self.s
        depth = 0
        while i < len(s):
            char = s[i]
            if char == "\\":
                i += 2
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1

    def quoted(self, i: int) -> int:
        s = self.s
        i += 1  # the opening quote
        while i < len(s):
            char = s[i]
            if char == '"':
                return i + 1
            if char == "\\":
                if i + 1 >= len(s):
                    return -1
                i += 2
                continue
            if not (char in _WSP or 33 <= ord(char) <= 126):
                return -1
            i += 1
        return -1

    def local(self, i: int) -> int:
        s = self.s
        while True:
            i = self.cfws(i)
            if i < 0:
                return -1
            if i < len(s) and s[i] == '"':
                i = self.quoted(i)
                if i < 0:
                    return -1
            else:
                start = i
                while i < len(s) and s[i] in _ATEXT:
                    i += 1
                if i == start:
                    return -1
            i = self.cfws(i)
            if i < 0:
                return -1
            if i < len(s) and s[i] == ".":
                i += 1
                continue
            return i

    def domain_name(self, i: int) -> int:
        s = self.s
        labels: list[str] = []
        while True:
            i = self.cfws(i)
            if i < 0:
                return -1
            start = i
            while i < len(s) and s[i] in _LABEL_CHARS:
                i += 1
            label = s[start:i]
            if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
                return -1
            labels.append(label)
            i = self.cfws(i)
            if i < 0:
                return -1
            if i < len(s) and s[i] == ".":
                i += 1
                if i >= len(s) or (s[i] not in _LABEL_CHARS and s[i] not in _WSP and s[i] != "("):
                    break  # a trailing dot
                continue
            break
        if len(".".join(labels)) > 253:
            return -1
        return i

    def domain_literal(self, i: int) -> int:
        s = self.s
        i = self.cfws(i)
        if i < 0 or i >= len(s) or s[i] != "[":
            return -1
        i += 1
        while i < len(s) and s[i] != "]":
            char = s[i]
            if not (char in _WSP or 33 <= ord(char) <= 90 or 94 <= ord(char) <= 126):
                return -1
            i += 1
        if i >= len(s):
            return -1
        return self.cfws(i + 1)

    def valid(self) -> bool:
        i = self.local(0)
        if i < 0 or i >= len(self.s) or self.s[i] != "@":
            return False
        end = self.domain_name(i + 1)
        if end != len(self.s):
            end = self.domain_literal(i + 1)
        return end == len(self.s)


def is_email(value: str) -> bool:
    return _Email(value).valid()


VALIDATORS: Final[Mapping[str, Callable[[str], bool]]] = {
    "url": is_url,
    "rfc3339": is_rfc3339,
    "semver": is_semver,
    "hash": is_git_hash,
    "spdx": is_spdx,
    "email": is_email,
}


def label_pairs(ctx: LintContext) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """(line, pairs) of every LABEL of the file."""
    escape = ctx.dockerfile.escape
    for inst in c.instructions(ctx):
        if inst.keyword == "label":
            yield inst.start_line, c.pairs(inst, escape)


def schema_labels(ctx: LintContext, kind: str | None = None) -> list[str]:
    """The schema's label names (of one value type, when given)."""
    return [
        name
        for name, value_type in ctx.settings.label_schema.items()
        if kind is None or value_type == kind
    ]


def check_values(ctx: LintContext, kind: str, message: Callable[[str], str]) -> Iterator[Violation]:
    """A violation per LABEL giving a schema label of type `kind` an invalid value."""
    names = schema_labels(ctx, kind)
    if not names:
        return
    valid = VALIDATORS[kind]
    for name in names:
        text = message(name)
        for line, pairs in label_pairs(ctx):
            if any(key == name and not valid(value) for key, value in pairs):
                yield Violation(line, text)
