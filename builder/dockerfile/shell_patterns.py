"""Shell patterns for `${V#p}`, `${V%p}` and `${V/p/r}`, matched the way BuildKit does.

Patterns know `*`, `?` and backslash escapes; `[` and `]` are literal (Go's
`path.Match`-like rules that BuildKit builds on are not used for these). The
`${V//p/r}` replacement goes through Go's regexp template expansion.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What Go's `%c` prints for the scanner's EOF (rune -1).
_EOF_RUNE = "\ufffd"


class PatternError(ValueError):
    """A pattern BuildKit rejects; the message is BuildKit's."""


@dataclass(frozen=True)
class _Segment:
    """A fixed-width piece of a pattern: literal characters and `?` (None)."""

    chars: tuple[str | None, ...]
    literal: str | None  #: the piece as text when it has no `?`

    def matches_at(self, value: str, pos: int) -> bool:
        if self.literal is not None:
            return value.startswith(self.literal, pos)
        if pos + len(self.chars) > len(value):
            return False
        for offset, want in enumerate(self.chars):
            got = value[pos + offset]
            if want is None:  # `?`: any character but a newline
                if got == "\n":
                    return False
            elif got != want:
                return False
        return True


@dataclass(frozen=True)
class _Glob:
    """A `${V#pattern}` / `${V/pattern/...}` pattern: fixed-width segments joined by `*`.

    BuildKit turns the pattern into a Go regexp: `*` is `.*` (`.*?` for the
    shortest match), `?` is `.`; neither matches a newline.  A backslash
    escapes `*`, `?` or a backslash, and is dropped before `}` and `/`; before
    anything else it is an error.  `[` and `]` are literal.
    """

    segments: tuple[_Segment, ...]
    longest: bool  #: stars take as much as they can (`##`, `%%`, `/`), else as little

    @classmethod
    def parse(cls, pattern: str, longest: bool) -> _Glob:
        pieces: list[list[str | None]] = [[]]
        i, n = 0, len(pattern)
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "*":
                pieces.append([])
            elif ch == "?":
                pieces[-1].append(None)
            elif ch == "\\":
                following = pattern[i] if i < n else ""
                if following in ("}", "/"):
                    continue
                i += 1
                if following not in ("*", "?", "\\"):
                    reason = f"invalid escape '\\{following or _EOF_RUNE}'"
                    raise PatternError(f"invalid pattern ({pattern}) in substitution: {reason}")
                pieces[-1].append(following)
            else:
                pieces[-1].append(ch)
        return cls(tuple(_segment(piece) for piece in pieces), longest)


def _segment(piece: list[str | None]) -> _Segment:
    literal = None if None in piece else "".join(c for c in piece if c is not None)
    return _Segment(tuple(piece), literal)


class _GlobMatcher:
    """Finds the matches of a `_Glob` in one value, as Go's regexp would.

    Go picks, among the leftmost matches, the one a backtracking matcher finds
    first: each star in turn as long (or as short) as the rest allows.  Here
    `choice[i][x]` is where segment i+1 starts when the star before it starts
    at x: the last (or first) position before the next newline from which the
    rest of the pattern matches, -1 if none.  Built in one backward pass per
    segment, so matching is linear in the value; Python's backtracking `re`
    takes polynomial time on patterns with several stars.
    """

    __slots__ = ("choice", "first", "rest", "value")

    def __init__(self, glob: _Glob, value: str) -> None:
        self.value = value
        self.first = glob.segments[0]
        self.rest = glob.segments[1:]
        n = len(value)
        choice: list[list[int]] = []
        after: list[int] | None = None  # the choice row of the next star
        for segment in reversed(self.rest):
            width = len(segment.chars)
            row = [-1] * (n + 1)
            found = -1
            for x in range(n, -1, -1):
                if x < n and value[x] == "\n":
                    found = -1  # a star cannot run past a newline
                if (
                    (found == -1 or not glob.longest)
                    and segment.matches_at(value, x)
                    and (after is None or after[x + width] != -1)
                ):
                    found = x
                row[x] = found
            choice.append(row)
            after = row
        choice.reverse()
        self.choice = choice

    def match_at(self, start: int) -> int:
        """The end of the match that starts at `start`, or -1."""
        if not self.first.matches_at(self.value, start):
            return -1
        pos = start + len(self.first.chars)
        for row, segment in zip(self.choice, self.rest, strict=True):
            pos = row[pos]
            if pos == -1:
                return -1
            pos += len(segment.chars)
        return pos

    def search(self, pos: int) -> tuple[int, int] | None:
        """The leftmost match that starts at or after `pos`."""
        value, literal = self.value, self.first.literal
        start, last = pos, len(value)
        while start <= last:
            if literal:
                start = value.find(literal, start)
                if start < 0:
                    return None
            end = self.match_at(start)
            if end >= 0:
                return start, end
            start += 1
        return None


def trim_prefix(pattern: str, value: str, longest: bool) -> str:
    end = _GlobMatcher(_Glob.parse(pattern, longest), value).match_at(0)
    return value[end:] if end >= 0 else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each `\\x` escape pair in order."""
    tokens: list[str] = []
    i, last = 0, len(pattern) - 1
    while i <= last:
        if pattern[i] == "\\" and i != last:
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def trim_suffix(pattern: str, value: str, longest: bool) -> str:
    # Like BuildKit: trim a prefix of the reversed value with the reversed
    # pattern (so an error message shows the reversed pattern, as there).
    return trim_prefix(_reverse_pattern(pattern), value[::-1], longest)[::-1]


def replace_pattern(pattern: str, value: str, replacement: str, replace_all: bool) -> str:
    """`${V/pattern/replacement}`, or with `replace_all` Go's `Regexp.ReplaceAllString`.

    The single replacement inserts `replacement` verbatim.  Replace-all expands
    it as a Go template, and, unlike `re.sub`, skips an empty match right
    after the previous match.
    """
    matcher = _GlobMatcher(_Glob.parse(pattern, longest=True), value)
    if not replace_all:
        found = matcher.search(0)
        if found is None:
            return value
        return value[: found[0]] + replacement + value[found[1] :]
    out: list[str] = []
    last_end = search_pos = 0
    n = len(value)
    while search_pos <= n:
        found = matcher.search(search_pos)
        if found is None:
            break
        start, end = found
        out.append(value[last_end:start])
        if end > last_end or start == 0:
            out.append(_expand_template(replacement, value[start:end]))
        last_end = end
        search_pos = max(search_pos + 1, end)
    out.append(value[last_end:])
    return "".join(out)


def _expand_template(template: str, matched: str) -> str:
    """Go's regexp template expansion for a pattern whose only group is the match.

    `$$` is `$`; `$0` / `${0}` is the match; another `$name` / `${name}` is
    empty; a `$` that starts no name is literal.
    """
    if "$" not in template:
        return template
    out: list[str] = []
    rest = template
    while True:
        before, dollar, after = rest.partition("$")
        if not dollar:
            break
        out.append(before)
        rest = after
        if rest[:1] == "$":
            out.append("$")
            rest = rest[1:]
            continue
        braced = rest[:1] == "{"
        body = rest[1:] if braced else rest
        length = 0
        while length < len(body) and (
            body[length].isalpha() or body[length].isdecimal() or body[length] == "_"
        ):
            length += 1
        if length == 0 or (braced and body[length : length + 1] != "}"):
            out.append("$")
            continue
        if body[:length] == "0":
            out.append(matched)
        rest = body[length + 1 :] if braced else body[length:]
    out.append(rest)
    return "".join(out)
