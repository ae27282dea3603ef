"""Small text helpers that follow Go's definitions, so splitting matches BuildKit."""

from __future__ import annotations

import re

#: Characters Go's `unicode.IsSpace` accepts (the Unicode White_Space set).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GO_SPACE_SET = frozenset(GO_SPACE)

#: BuildKit's `[\t\v\f\r ]+`: the separator of whitespace-delimited arguments.
WHITESPACE_RUN = re.compile(r"[\t\v\f\r ]+")


def is_go_space(ch: str) -> bool:
    return ch in _GO_SPACE_SET


def go_trim_space(s: str) -> str:
    """`strings.TrimSpace`."""
    return s.strip(GO_SPACE)


def go_trim_left_space(s: str) -> str:
    return s.lstrip(GO_SPACE)


_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(s: str) -> str:
    """Quote `s` like Go's `strconv.Quote` (`%q`).

    Invalid UTF-8 bytes, which the parser keeps as surrogate escapes, come out
    as `\\xNN`, as Go prints them.
    """
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        code = ord(ch)
        esc = _SIMPLE_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
