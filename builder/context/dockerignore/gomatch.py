"""Go's `filepath.Match` patterns: read in one pass, compiled to a matcher.

`tokenize` checks the syntax as Go does (an unclosed `[`, a trailing `\\`,
`[]`... are `BadPatternError`s) and gives tokens; `compile_tokens` turns
them into a regular expression, or into a small NFA when the pattern has
more than two wildcards that repeat, so matching never backtracks
exponentially.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final

from builder.context.dockerignore.errors import BadPatternError

# Tokens: one pass over a pattern, with Go's `filepath.Match` syntax checks

LIT: Final = 0  #: a literal character
RLIT: Final = 1  #: a literal that makes moby compile a regexp (`\\x`, `]`)
STAR: Final = 2  #: `*`
QMARK: Final = 3  #: `?`
CLASS: Final = 4  #: `[...]`
DSTAR: Final = 5  #: `**` followed by more pattern: `(.*/)?`
DSTAR_END: Final = 6  #: `**` at the end, in a regexp pattern: `.*`

Token = tuple[int, str]  # kind, payload (the character, or a class's regexp)


def _class_escape(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else re.escape(ch)


def _read_class(pattern: str, i: int) -> tuple[str, bool, int]:
    """Parse `[...]` starting after the `[`; return (regexp class, may match '/', next index)."""
    n = len(pattern)

    def get_esc(j: int) -> tuple[str, int]:
        if j >= n or pattern[j] in "-]":
            raise BadPatternError("syntax error in pattern")
        if pattern[j] == "\\":
            j += 1
            if j >= n:
                raise BadPatternError("syntax error in pattern")
        ch = pattern[j]
        j += 1
        if j >= n:
            raise BadPatternError("syntax error in pattern")
        return ch, j

    negated = i < n and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i < n and pattern[i] == "]" and ranges:
            i += 1
            break
        lo, i = get_esc(i)
        hi = lo
        if pattern[i] == "-":
            hi, i = get_esc(i + 1)
        if lo > hi:
            raise BadPatternError(f"invalid character range {lo}-{hi}")
        ranges.append((lo, hi))
    has_slash = any(lo <= "/" <= hi for lo, hi in ranges)
    body = "".join(
        _class_escape(lo) if lo == hi else f"{_class_escape(lo)}-{_class_escape(hi)}"
        for lo, hi in ranges
    )
    return ("[^" if negated else "[") + body + "]", has_slash != negated, i


def tokenize(pattern: str, double_star: bool) -> tuple[list[Token], bool]:
    """Tokens of a pattern, and whether a character class may match `/`.

    With `double_star`, `**` is moby's any-directories wildcard (the caller
    decides between `DSTAR` and the end-of-pattern forms); without, it is
    two `*`, as in `filepath.Match`.
    """
    tokens: list[Token] = []
    slash_class = False
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if double_star and i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                tokens.append((DSTAR, ""))
                continue
            tokens.append((STAR, ""))
        elif ch == "?":
            tokens.append((QMARK, ""))
        elif ch == "\\":
            if i + 1 >= n:
                raise BadPatternError("syntax error in pattern")
            i += 1
            tokens.append((RLIT, pattern[i]))
        elif ch == "[":
            regexp, may_slash, i = _read_class(pattern, i + 1)
            slash_class = slash_class or may_slash
            tokens.append((CLASS, regexp))
            continue
        elif ch == "]":
            tokens.append((RLIT, ch))
        else:
            tokens.append((LIT, ch))
        i += 1
    return tokens, slash_class


# Compiling tokens to a matcher

#: More repeating wildcards than this and `re` could backtrack for a long time.
_MAX_RE_REPEATS: Final = 2


def _token_regexp(kind: int, payload: str) -> str:
    if kind in (LIT, RLIT):
        return re.escape(payload)
    if kind == STAR:
        return "[^/]*"
    if kind == QMARK:
        return "[^/]"
    if kind == CLASS:
        return payload
    if kind == DSTAR:
        return "(?:.*/)?"
    return ".*"  # DSTAR_END


class _Nfa:
    """A Thompson NFA over tokens: linear time whatever the pattern."""

    __slots__ = ("classes", "closure", "n", "tokens")

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = list(tokens)
        self.n = len(self.tokens)
        self.classes: dict[int, re.Pattern[str]] = {
            k: re.compile(payload) for k, (kind, payload) in enumerate(self.tokens) if kind == CLASS
        }
        # state k: before token k; state n: accept. Repeating tokens may be skipped.
        self.closure: list[frozenset[int]] = []
        for k in range(self.n + 1):
            reach = {k}
            j = k
            while j < self.n and self.tokens[j][0] in (STAR, DSTAR, DSTAR_END):
                j += 1
                reach.add(j)
            self.closure.append(frozenset(reach))

    def __call__(self, text: str) -> bool:
        # A state is (token index, in_loop); `in_loop` is only used by DSTAR,
        # whose `.*/` part has been entered but not yet left through a `/`.
        states: set[tuple[int, bool]] = {(s, False) for s in self.closure[0]}
        tokens, n = self.tokens, self.n
        for ch in text:
            nxt: set[tuple[int, bool]] = set()
            for k, in_loop in states:
                if k == n:
                    continue
                kind, payload = tokens[k]
                if kind == DSTAR:
                    if ch != "\n":
                        nxt.add((k, True))
                        if ch == "/":
                            nxt.update((s, False) for s in self.closure[k + 1])
                    continue
                if in_loop:
                    continue
                if kind in (STAR, DSTAR_END):
                    if (kind == STAR and ch != "/") or (kind == DSTAR_END and ch != "\n"):
                        nxt.update((s, False) for s in self.closure[k])
                    continue
                if kind in (LIT, RLIT):
                    ok = ch == payload
                elif kind == QMARK:
                    ok = ch != "/"
                else:
                    ok = self.classes[k].fullmatch(ch) is not None
                if ok:
                    nxt.update((s, False) for s in self.closure[k + 1])
            if not nxt:
                return False
            states = nxt
        return any(k == n and not in_loop for k, in_loop in states)


def compile_tokens(tokens: Sequence[Token]) -> Callable[[str], bool]:
    repeats = sum(1 for kind, _ in tokens if kind in (STAR, DSTAR, DSTAR_END))
    if repeats > _MAX_RE_REPEATS:
        return _Nfa(tokens)
    regexp = re.compile("".join(_token_regexp(kind, payload) for kind, payload in tokens))

    def match(text: str) -> bool:
        return regexp.fullmatch(text) is not None

    return match


def equals(literal: str) -> Callable[[str], bool]:
    """A matcher for the path `literal` itself."""

    def match(path: str) -> bool:
        return path == literal

    return match


def compile_go_match(pattern: str) -> Callable[[str], bool]:
    """Go's `filepath.Match(pattern, name)` as a compiled predicate.

    Raises `BadPatternError` for a pattern Go rejects.
    """
    tokens, _ = tokenize(pattern, double_star=False)
    if all(kind in (LIT, RLIT) for kind, _ in tokens):
        return equals("".join(payload for _, payload in tokens))
    return compile_tokens(tokens)


def go_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match`: does `name` match the shell pattern? `*` never crosses `/`."""
    return compile_go_match(pattern)(name)
