"""Whether the text of `$(( ... ))` is arithmetic or a subshell in a substitution."""

from __future__ import annotations

import re
from typing import Final

_ARITH_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<operand>[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9A-Za-z#]*|\$\{[^}]*\}"
    r"|\$[A-Za-z_0-9@*#?$!-][A-Za-z0-9_]*|'[^']*'|\"[^\"]*\")"
    r"|(?P<op><<=|>>=|\*\*=?|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|[-+*/%&^|]=|[-+*/%<>=!&|^~?:,\[\]()]))"
)
_UNARY: Final = frozenset({"+", "-", "!", "~", "++", "--", "("})


def looks_arithmetic(text: str) -> bool:
    """Whether `$(( text ))` reads as arithmetic (else it is `$( (text) )`).

    Operands and operators must alternate the way expressions do: two
    operands side by side (`sudo apt`), an expression starting with a binary
    operator (`: noop`), or a character arithmetic has no use for make it a
    command, as they make ShellCheck's arithmetic parser give up.
    """
    pos = 0
    have_operand = False
    while text[pos:].strip():
        match = _ARITH_TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            return False
        pos = match.end()
        op = match.group("op")
        if op is None:  # an operand
            if have_operand:
                return False
            have_operand = True
        elif not have_operand:
            if op not in _UNARY:
                return False
        elif op in (")", "]", "++", "--"):
            pass
        else:
            have_operand = False
    return have_operand or not text.strip()
