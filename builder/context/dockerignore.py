"""`.dockerignore` files, matched the way Docker and BuildKit match them.

Reading a file follows moby's `patternmatcher/ignorefile.ReadAll`:

- lines are split on `\\n` (a trailing `\\r` is dropped); a UTF-8 byte order
  mark on the first line is skipped;
- a line that starts with `#` (in the first column) is a comment;
- every other line is trimmed (Go's `strings.TrimSpace`); empty lines are
  skipped; a leading `!` marks an exception (whitespace after it is trimmed);
- the pattern is cleaned like Go's `filepath.Clean` (`./a//b/../c` is `a/c`)
  and one leading `/` is dropped, so `/foo` and `./foo` both mean `foo`.

Compiling the patterns follows `patternmatcher.New`: each pattern is trimmed
and cleaned again, a lone `!` is an error, and the pattern must be valid for
Go's `filepath.Match` (an unclosed `[`, a trailing `\\`, `[]`, `[a-]`... are
errors: BuildKit refuses the whole file).

Matching follows `patternmatcher.MatchesOrParentMatches`, the function the
build context transfer uses:

- `*` matches any run of characters except `/`, `?` one character except
  `/`, `[...]` / `[^...]` a character class (ranges, `\\` escapes), `\\x` the
  character `x`;
- `**` matches any number of directories, including none: `**/x` matches
  `x` and `a/b/x`, `a/**` everything under `a`, a trailing `**` anything;
- a path is excluded when a pattern matches it *or one of its parent
  directories* (`dir` excludes `dir/file`), and the **last** pattern that
  matches decides: a later `!exception` re-includes, a later pattern
  excludes again.

Like moby, a pattern is one of four kinds, which decides how `**` behaves:
a literal path (exact comparison), `prefix**` (string prefix: `abc**`
matches `abcdef/x`), `**suffix` with no other wildcard (string suffix:
`**.txt` matches every path ending in `.txt`), or a regular expression.

Differences from moby, on purpose, all for patterns that moby turns into a
broken regular expression: inside `[...]`, `*`, `?` and `**` are plain
characters (as in Go's `filepath.Match`); `\\d`, `\\w` and other backslash
letters mean the letter itself, not a regexp class; `^` is a plain
character; a class range written backwards (`[z-a]`) is reported when the
file is read (moby fails when the pattern is first used).

Matching never backtracks exponentially: patterns with more than two
wildcards that can repeat are run on a small NFA instead of `re`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from builder.dockerfile.text import go_trim_space

__all__ = [
    "BadPatternError",
    "DockerignoreError",
    "IgnoreMatcher",
    "IgnorePattern",
    "compile_go_match",
    "contains_wildcards",
    "find_ignore_file",
    "go_clean",
    "go_match",
    "load_ignore_patterns",
    "parse_ignore_file",
    "read_ignore_lines",
]

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_DOCKERIGNORE: Final = ".dockerignore"


class BadPatternError(ValueError):
    """A pattern Go's `filepath.Match` rejects (`syntax error in pattern`)."""


class DockerignoreError(ValueError):
    """A `.dockerignore` file that BuildKit would refuse; the message names the line."""

    def __init__(self, message: str, source: Path | None = None, line: int = 0) -> None:
        self.source = source
        self.line = line
        where = f"{source.name if source else _DOCKERIGNORE}:{line}: " if line else ""
        super().__init__(where + message)


# ---------------------------------------------------------------------------
# Go helpers


def go_clean(path: str) -> str:
    """Go's `path.Clean`: the shortest equivalent slash-separated path."""
    if path == "":
        return "."
    rooted = path[0] == "/"
    n = len(path)
    out: list[str] = ["/"] if rooted else []
    r = dotdot = 1 if rooted else 0
    while r < n:
        if path[r] == "/" or (path[r] == "." and (r + 1 == n or path[r + 1] == "/")):
            r += 1  # an empty or `.` element
        elif path[r] == "." and path[r + 1] == "." and (r + 2 == n or path[r + 2] == "/"):
            r += 2
            if len(out) > dotdot:
                w = len(out) - 1
                while w > dotdot and out[w] != "/":
                    w -= 1
                del out[w:]
            elif not rooted:
                if out:
                    out.append("/")
                out.extend("..")
                dotdot = len(out)
        else:
            if (rooted and len(out) != 1) or (not rooted and out):
                out.append("/")
            start = r
            while r < n and path[r] != "/":
                r += 1
            out.extend(path[start:r])
    return "".join(out) if out else "."


def contains_wildcards(name: str) -> bool:
    """BuildKit's test for a COPY source that needs wildcard expansion (`*`, `?`, `[`)."""
    i, n = 0, len(name)
    while i < n:
        ch = name[i]
        if ch == "\\":
            i += 1
        elif ch in "*?[":
            return True
        i += 1
    return False


# ---------------------------------------------------------------------------
# Tokens: one pass over a pattern, with Go's `filepath.Match` syntax checks

_LIT: Final = 0  #: a literal character
_RLIT: Final = 1  #: a literal that makes moby compile a regexp (`\\x`, `]`)
_STAR: Final = 2  #: `*`
_QMARK: Final = 3  #: `?`
_CLASS: Final = 4  #: `[...]`
_DSTAR: Final = 5  #: `**` followed by more pattern: `(.*/)?`
_DSTAR_END: Final = 6  #: `**` at the end, in a regexp pattern: `.*`

_Token = tuple[int, str]  # kind, payload (the character, or a class's regexp)


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


def _tokenize(pattern: str, double_star: bool) -> tuple[list[_Token], bool]:
    """Tokens of a pattern, and whether a character class may match `/`.

    With `double_star`, `**` is moby's any-directories wildcard (the caller
    decides between `_DSTAR` and the end-of-pattern forms); without, it is
    two `*`, as in `filepath.Match`.
    """
    tokens: list[_Token] = []
    slash_class = False
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if double_star and i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                tokens.append((_DSTAR, ""))
                continue
            tokens.append((_STAR, ""))
        elif ch == "?":
            tokens.append((_QMARK, ""))
        elif ch == "\\":
            if i + 1 >= n:
                raise BadPatternError("syntax error in pattern")
            i += 1
            tokens.append((_RLIT, pattern[i]))
        elif ch == "[":
            regexp, may_slash, i = _read_class(pattern, i + 1)
            slash_class = slash_class or may_slash
            tokens.append((_CLASS, regexp))
            continue
        elif ch == "]":
            tokens.append((_RLIT, ch))
        else:
            tokens.append((_LIT, ch))
        i += 1
    return tokens, slash_class


# ---------------------------------------------------------------------------
# Compiling tokens to a matcher

#: More repeating wildcards than this and `re` could backtrack for a long time.
_MAX_RE_REPEATS: Final = 2


def _token_regexp(kind: int, payload: str) -> str:
    if kind in (_LIT, _RLIT):
        return re.escape(payload)
    if kind == _STAR:
        return "[^/]*"
    if kind == _QMARK:
        return "[^/]"
    if kind == _CLASS:
        return payload
    if kind == _DSTAR:
        return "(?:.*/)?"
    return ".*"  # _DSTAR_END


class _Nfa:
    """A Thompson NFA over tokens: linear time whatever the pattern."""

    __slots__ = ("classes", "closure", "n", "tokens")

    def __init__(self, tokens: Sequence[_Token]) -> None:
        self.tokens = list(tokens)
        self.n = len(self.tokens)
        self.classes: dict[int, re.Pattern[str]] = {
            k: re.compile(payload)
            for k, (kind, payload) in enumerate(self.tokens)
            if kind == _CLASS
        }
        # state k: before token k; state n: accept. Repeating tokens may be skipped.
        self.closure: list[frozenset[int]] = []
        for k in range(self.n + 1):
            reach = {k}
            j = k
            while j < self.n and self.tokens[j][0] in (_STAR, _DSTAR, _DSTAR_END):
                j += 1
                reach.add(j)
            self.closure.append(frozenset(reach))

    def __call__(self, text: str) -> bool:
        # A state is (token index, in_loop); `in_loop` is only used by _DSTAR,
        # whose `.*/` part has been entered but not yet left through a `/`.
        states: set[tuple[int, bool]] = {(s, False) for s in self.closure[0]}
        tokens, n = self.tokens, self.n
        for ch in text:
            nxt: set[tuple[int, bool]] = set()
            for k, in_loop in states:
                if k == n:
                    continue
                kind, payload = tokens[k]
                if kind == _DSTAR:
                    if ch != "\n":
                        nxt.add((k, True))
                        if ch == "/":
                            nxt.update((s, False) for s in self.closure[k + 1])
                    continue
                if in_loop:
                    continue
                if kind in (_STAR, _DSTAR_END):
                    if (kind == _STAR and ch != "/") or (kind == _DSTAR_END and ch != "\n"):
                        nxt.update((s, False) for s in self.closure[k])
                    continue
                if kind in (_LIT, _RLIT):
                    ok = ch == payload
                elif kind == _QMARK:
                    ok = ch != "/"
                else:
                    ok = self.classes[k].fullmatch(ch) is not None
                if ok:
                    nxt.update((s, False) for s in self.closure[k + 1])
            if not nxt:
                return False
            states = nxt
        return any(k == n and not in_loop for k, in_loop in states)


def _compile_tokens(tokens: Sequence[_Token]) -> Callable[[str], bool]:
    repeats = sum(1 for kind, _ in tokens if kind in (_STAR, _DSTAR, _DSTAR_END))
    if repeats > _MAX_RE_REPEATS:
        return _Nfa(tokens)
    regexp = re.compile("".join(_token_regexp(kind, payload) for kind, payload in tokens))

    def match(text: str) -> bool:
        return regexp.fullmatch(text) is not None

    return match


def compile_go_match(pattern: str) -> Callable[[str], bool]:
    """Go's `filepath.Match(pattern, name)` as a compiled predicate.

    Raises `BadPatternError` for a pattern Go rejects.
    """
    tokens, _ = _tokenize(pattern, double_star=False)
    if all(kind in (_LIT, _RLIT) for kind, _ in tokens):
        return _equals("".join(payload for _, payload in tokens))
    return _compile_tokens(tokens)


def go_match(pattern: str, name: str) -> bool:
    """Go's `filepath.Match`: does `name` match the shell pattern? `*` never crosses `/`."""
    return compile_go_match(pattern)(name)


# ---------------------------------------------------------------------------
# Patterns

_EXACT: Final = "exact"
_PREFIX: Final = "prefix"
_SUFFIX: Final = "suffix"
_REGEXP: Final = "regexp"

# How a pattern relates to the paths strictly inside a directory.
_ALWAYS: Final = 0  # matches every one of them
_NEVER: Final = 1  # matches none of them
_MAYBE: Final = 2


def _classify(pattern: str) -> tuple[str, list[_Token], bool]:
    """moby's match kind for a cleaned pattern, with the tokens that implement it."""
    raw, slash_class = _tokenize(pattern, double_star=True)
    kind = _EXACT
    tokens: list[_Token] = []
    for index, (tok, payload) in enumerate(raw):
        if tok == _DSTAR:
            if index == len(raw) - 1:
                # `**` at the end: a prefix when nothing before it was a wildcard.
                if kind == _EXACT:
                    kind = _PREFIX
                else:
                    kind = _REGEXP
                    tok = _DSTAR_END
            else:
                kind = _REGEXP
            if index == 0:
                kind = _SUFFIX
        elif tok != _LIT:
            kind = _REGEXP
        tokens.append((tok, payload))
    return kind, tokens, slash_class


@dataclass(frozen=True, eq=False)
class IgnorePattern:
    """One compiled line of an ignore file."""

    pattern: str  #: cleaned, without the leading `!`
    exclusion: bool  #: True for a `!` exception (moby's name for it)
    line: int = 0  #: 1-based line in the ignore file; 0 when not read from a file
    kind: str = field(default=_EXACT, compare=False)
    _match: Callable[[str], bool] = field(default=bool, repr=False, compare=False)
    #: per-component matchers of the directories a regexp/exact pattern must
    #: start with, whether more may follow (`**`), and whether the analysis
    #: is impossible (a class that can match `/`)
    _segments: tuple[Callable[[str], bool], ...] = field(default=(), repr=False)
    _open_ended: bool = field(default=False, repr=False)
    _segment_count: int = field(default=0, repr=False)
    _opaque: bool = field(default=False, repr=False)

    @classmethod
    def compile(cls, text: str, line: int = 0) -> IgnorePattern:
        """Compile one pattern the way `patternmatcher.New` does (`!` marks an exception)."""
        p = go_trim_space(text)
        if not p:
            raise BadPatternError("empty pattern")
        p = go_clean(p)
        exclusion = p[0] == "!"
        if exclusion:
            if len(p) == 1:
                raise BadPatternError('illegal exclusion pattern: "!"')
            p = p[1:]
        kind, tokens, slash_class = _classify(p)
        match: Callable[[str], bool]
        if kind == _EXACT:
            match = _equals(p)
        elif kind == _PREFIX:
            prefix = p[:-2]
            match = _startswith(prefix)
        elif kind == _SUFFIX:
            match = _endswith(p[2:])
        else:
            match = _compile_tokens(tokens)
        segments: list[Callable[[str], bool]] = []
        open_ended = False
        count = 0
        if kind in (_EXACT, _REGEXP) and not slash_class:
            current: list[_Token] = []
            for tok, payload in tokens:
                if tok in (_DSTAR, _DSTAR_END):
                    open_ended = True
                    break
                if tok in (_LIT, _RLIT) and payload == "/":
                    segments.append(_compile_segment(current))
                    current = []
                    continue
                current.append((tok, payload))
            else:
                segments.append(_compile_segment(current))
            count = len(segments)
        return cls(
            pattern=p,
            exclusion=exclusion,
            line=line,
            kind=kind,
            _match=match,
            _segments=tuple(segments),
            _open_ended=open_ended,
            _segment_count=count,
            _opaque=slash_class or kind not in (_EXACT, _REGEXP),
        )

    def matches(self, path: str) -> bool:
        """Does this pattern match `path` itself (a cleaned, relative, slash path)?"""
        return self._match(path)

    def __str__(self) -> str:
        return ("!" if self.exclusion else "") + self.pattern

    def _relation(self, parts: list[str], dir_slash: str) -> int:
        """How this pattern relates to the paths strictly under the directory `parts`."""
        for k in range(1, len(parts) + 1):
            if self._match("/".join(parts[:k])):
                return _ALWAYS  # the directory or a parent matches: parent matching covers all
        if self.kind == _SUFFIX:
            return _ALWAYS if self.pattern == "**" else _MAYBE
        if self.kind == _PREFIX:
            prefix = self.pattern[:-2]
            if parts and dir_slash.startswith(prefix):
                return _ALWAYS
            return _MAYBE if prefix.startswith(dir_slash) else _NEVER
        if self._opaque:
            return _MAYBE
        for segment, part in zip(self._segments, parts, strict=False):
            if not segment(part):
                return _NEVER
        if not self._open_ended and self._segment_count <= len(parts):
            return _NEVER
        return _MAYBE


def _equals(literal: str) -> Callable[[str], bool]:
    def match(path: str) -> bool:
        return path == literal

    return match


def _startswith(prefix: str) -> Callable[[str], bool]:
    def match(path: str) -> bool:
        return path.startswith(prefix)

    return match


def _endswith(suffix: str) -> Callable[[str], bool]:
    bare = suffix[1:] if suffix.startswith("/") else None

    def match(path: str) -> bool:
        return path.endswith(suffix) or path == bare

    return match


def _compile_segment(tokens: list[_Token]) -> Callable[[str], bool]:
    if all(kind in (_LIT, _RLIT) for kind, _ in tokens):
        return _equals("".join(payload for _, payload in tokens))
    return _compile_tokens(tokens)


# ---------------------------------------------------------------------------
# The matcher

_DIR_CACHE_LIMIT: Final = 1 << 16


def _normalize(relpath: str) -> str:
    """A path as moby compares it: cleaned, relative, `""` for the context root."""
    path = go_clean(relpath.replace(os.sep, "/") if os.sep != "/" else relpath)
    path = path.lstrip("/")
    return "" if path == "." else path


class IgnoreMatcher:
    """Compiled ignore patterns. `matches` answers for one path; build it once per build.

    Not thread-safe while the parent-directory cache fills; give each thread its own
    matcher (they are cheap to copy with `IgnoreMatcher(m.patterns, m.source)`).
    """

    __slots__ = ("_dir_hits", "has_exceptions", "patterns", "source")

    def __init__(self, patterns: Sequence[IgnorePattern] = (), source: Path | None = None) -> None:
        self.patterns: tuple[IgnorePattern, ...] = tuple(patterns)
        self.source = source  #: the ignore file the patterns came from, if any
        self.has_exceptions = any(p.exclusion for p in self.patterns)
        self._dir_hits: dict[str, tuple[bool, ...]] = {}

    @classmethod
    def compile(cls, patterns: Iterable[str], source: Path | None = None) -> IgnoreMatcher:
        """Compile patterns as `patternmatcher.New` does; blank ones are skipped."""
        compiled = []
        for number, text in enumerate(patterns, 1):
            if not go_trim_space(text):
                continue
            try:
                compiled.append(IgnorePattern.compile(text, number))
            except BadPatternError as exc:
                raise DockerignoreError(f"{exc}: {text!r}") from None
        return cls(compiled, source)

    def __len__(self) -> int:
        return len(self.patterns)

    def __repr__(self) -> str:
        return f"IgnoreMatcher({[str(p) for p in self.patterns]!r}, source={self.source!r})"

    # -- matching ------------------------------------------------------------

    def _hits(self, directory: str) -> tuple[bool, ...]:
        """For each pattern: does it match `directory` or one of its parents?"""
        cache = self._dir_hits
        cached = cache.get(directory)
        if cached is not None:
            return cached
        # Walk up to the nearest cached ancestor, then fill the cache downwards.
        missing = [directory]
        above: tuple[bool, ...] | None = None
        current = directory
        while True:
            current = current.rpartition("/")[0]
            if not current:
                break
            found = cache.get(current)
            if found is not None:
                above = found
                break
            missing.append(current)
        if len(cache) + len(missing) > _DIR_CACHE_LIMIT:
            cache.clear()
        patterns = self.patterns
        for path in reversed(missing):
            if above is None:
                above = tuple(p._match(path) for p in patterns)
            else:
                above = tuple(a or p._match(path) for a, p in zip(above, patterns, strict=True))
            cache[path] = above
        assert above is not None
        return above

    def explain(self, relpath: str) -> IgnorePattern | None:
        """The pattern that decides `relpath`: the last one matching it or a parent."""
        path = _normalize(relpath)
        if not path or not self.patterns:
            return None
        parent, _, _ = path.rpartition("/")
        hits = self._hits(parent) if parent else None
        for i in range(len(self.patterns) - 1, -1, -1):
            pattern = self.patterns[i]
            if (hits is not None and hits[i]) or pattern._match(path):
                return pattern
        return None

    def matches(self, relpath: str) -> bool:
        """Is `relpath` (relative to the context, `/`-separated) excluded from the context?"""
        pattern = self.explain(relpath)
        return pattern is not None and not pattern.exclusion

    def _inside(self, dirpath: str) -> tuple[bool, IgnorePattern | None]:
        path = _normalize(dirpath)
        parts = path.split("/") if path else []
        dir_slash = path + "/" if path else ""
        for pattern in reversed(self.patterns):
            relation = pattern._relation(parts, dir_slash)
            if relation == _ALWAYS:
                return pattern.exclusion, pattern
            if relation == _MAYBE and pattern.exclusion:
                return True, None
        return True, None

    def may_match_inside(self, dirpath: str) -> bool:
        """Could anything under the directory `dirpath` be kept in the context?

        False only when every path below it is certainly excluded, so a walker
        may skip the whole directory; True when a file below might be kept,
        e.g. because a later `!exception` could re-include it.
        """
        return self._inside(dirpath)[0]

    def explain_inside(self, dirpath: str) -> IgnorePattern | None:
        """The pattern that excludes everything under `dirpath`, or None if something may stay."""
        keep, pattern = self._inside(dirpath)
        return None if keep else pattern


# ---------------------------------------------------------------------------
# Files


def read_ignore_lines(data: bytes | str) -> list[tuple[int, str]]:
    """The patterns of an ignore file as `ignorefile.ReadAll` returns them, with line numbers."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    out: list[tuple[int, str]] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(_UTF8_BOM):
            line = line[len(_UTF8_BOM) :]
        if line.endswith(b"\r"):
            line = line[:-1]
        text = line.decode("utf-8", "surrogateescape")
        if text.startswith("#"):
            continue
        pattern = go_trim_space(text)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = go_trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append((number, ("!" if invert else "") + pattern))
    return out


def parse_ignore_file(data: bytes | str, source: Path | None = None) -> IgnoreMatcher:
    """Compile the text of an ignore file. Raises `DockerignoreError` naming the bad line."""
    compiled = []
    for number, text in read_ignore_lines(data):
        try:
            compiled.append(IgnorePattern.compile(text, number))
        except BadPatternError as exc:
            raise DockerignoreError(f"{exc}: {text!r}", source, number) from None
    return IgnoreMatcher(compiled, source)


def find_ignore_file(
    context_dir: str | os.PathLike[str], dockerfile_path: str | os.PathLike[str] | None = None
) -> Path | None:
    """The ignore file a build uses: `<Dockerfile>.dockerignore` next to the Dockerfile
    when it exists (BuildKit), else the context's `.dockerignore`, else None."""
    if dockerfile_path is not None and str(dockerfile_path) not in ("", "-"):
        dockerfile = Path(dockerfile_path)
        specific = dockerfile.with_name(dockerfile.name + _DOCKERIGNORE)
        if specific.is_file():
            return specific
    default = Path(context_dir) / _DOCKERIGNORE
    return default if default.is_file() else None


def load_ignore_patterns(
    context_dir: str | os.PathLike[str], dockerfile_path: str | os.PathLike[str] | None = None
) -> IgnoreMatcher:
    """The compiled ignore patterns of a build (an empty matcher when there is no file).

    Raises `DockerignoreError` when the file cannot be read or holds a bad pattern.
    """
    path = find_ignore_file(context_dir, dockerfile_path)
    if path is None:
        return IgnoreMatcher()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DockerignoreError(f"cannot read {path}: {exc.strerror or exc}", path) from None
    return parse_ignore_file(data, path)
