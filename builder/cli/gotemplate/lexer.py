"""Split a Go template into text and action tokens (text/template's lexer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, auto

from builder.cli.gotemplate.errors import TemplateError


class Kind(Enum):
    TEXT = auto()
    LEFT = auto()  #: `{{`
    RIGHT = auto()  #: `}}`
    FIELD = auto()  #: `.Name` (one link of a chain)
    DOT = auto()  #: `.`
    VARIABLE = auto()  #: `$` or `$name`
    IDENT = auto()  #: a function name or keyword
    STRING = auto()  #: the value, already unquoted
    NUMBER = auto()
    CHAR = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    DECLARE = auto()  #: `:=`
    ASSIGN = auto()  #: `=`
    COMMA = auto()
    EOF = auto()


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str
    pos: int
    end: int = -1  #: where the token's source text ends (fields chain only when adjacent)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "0": "\0"}  # fmt: skip
_NUMBER = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unquote(body: str, pos: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(body[i + 2 : i + 2 + size], 16)))
            i += 2 + size
        else:
            raise TemplateError(f"template: :{pos}: unknown escape sequence \\{nxt}")
    return "".join(out)


def _lex_action(src: str, i: int, end: int, tokens: list[Token]) -> None:
    """Tokens of one action body `src[i:end]`."""
    while i < end:
        ch = src[i]
        if ch.isspace():
            i += 1
        elif ch == "|":
            tokens.append(Token(Kind.PIPE, ch, i))
            i += 1
        elif ch == "(":
            tokens.append(Token(Kind.LPAREN, ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token(Kind.RPAREN, ch, i, i + 1))
            i += 1
        elif ch == ",":
            tokens.append(Token(Kind.COMMA, ch, i))
            i += 1
        elif src.startswith(":=", i):
            tokens.append(Token(Kind.DECLARE, ":=", i))
            i += 2
        elif ch == "=":
            tokens.append(Token(Kind.ASSIGN, ch, i))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < end and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            if j >= end:
                raise TemplateError(f"template: :{i}: unterminated quoted string")
            tokens.append(Token(Kind.STRING, _unquote(src[i + 1 : j], i), i))
            i = j + 1
        elif ch == "`":
            j = src.find("`", i + 1)
            if j < 0 or j >= end:
                raise TemplateError(f"template: :{i}: unterminated raw quoted string")
            tokens.append(Token(Kind.STRING, src[i + 1 : j], i))
            i = j + 1
        elif ch == "'":
            j = i + 1
            while j < end and src[j] != "'":
                j += 2 if src[j] == "\\" else 1
            tokens.append(Token(Kind.CHAR, _unquote(src[i + 1 : j], i), i))
            i = j + 1
        elif ch == "$":
            m = _IDENT.match(src, i + 1)
            name = "$" + (m.group(0) if m else "")
            tokens.append(Token(Kind.VARIABLE, name, i, i + len(name)))
            i += len(name)
        elif ch == ".":
            m = _IDENT.match(src, i + 1)
            if m:
                tokens.append(Token(Kind.FIELD, m.group(0), i, m.end()))
                i = m.end()
            elif i + 1 < end and src[i + 1].isdigit():
                m2 = _NUMBER.match(src, i)
                assert m2 is not None
                tokens.append(Token(Kind.NUMBER, m2.group(0), i))
                i = m2.end()
            else:
                tokens.append(Token(Kind.DOT, ".", i, i + 1))
                i += 1
        elif ch.isdigit() or (ch in "+-" and i + 1 < end and src[i + 1].isdigit()):
            m = _NUMBER.match(src, i)
            assert m is not None and m.group(0)
            tokens.append(Token(Kind.NUMBER, m.group(0), i))
            i = m.end()
        elif m := _IDENT.match(src, i):
            tokens.append(Token(Kind.IDENT, m.group(0), i, m.end()))
            i = m.end()
        else:
            raise TemplateError(f"template: :{i}: unexpected {ch!r} in command")


def tokenize(src: str) -> list[Token]:
    """All tokens of `src`; trim markers are applied to the text around them."""
    tokens: list[Token] = []
    pos = 0
    trim_next = False
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        marker = src[start + 2 : start + 4] if start >= 0 else ""
        trim_before = len(marker) == 2 and marker[0] == "-" and marker[1] in " \t\r\n"
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if trim_before:
            text = text.rstrip(" \t\r\n")
        if text:
            tokens.append(Token(Kind.TEXT, text, pos))
        if start < 0:
            break
        body = start + (3 if trim_before else 2)
        close = _find_close(src, body)
        if close < 0:
            raise TemplateError(f"template: :{start}: unclosed action")
        trim_next = src[close - 2 : close] in (" -", "\t-", "\n-", "\r-")
        inner_end = close - 1 if trim_next else close
        inner = src[body:inner_end].strip()
        if inner.startswith("/*"):
            if not inner.endswith("*/"):
                raise TemplateError(f"template: :{start}: comment ends before closing delimiter")
        else:
            tokens.append(Token(Kind.LEFT, "{{", start))
            _lex_action(src, body, inner_end, tokens)
            tokens.append(Token(Kind.RIGHT, "}}", close))
        pos = close + 2
    tokens.append(Token(Kind.EOF, "", len(src)))
    return tokens


def _find_close(src: str, i: int) -> int:
    """The index of the `}}` that ends the action starting at `i`, skipping quotes."""
    quote = ""
    while i < len(src):
        ch = src[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"`'":
            quote = ch
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                return -1
            i = j + 2
            continue
        elif src.startswith("}}", i):
            return i
        i += 1
    return -1
