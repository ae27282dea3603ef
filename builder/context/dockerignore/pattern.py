"""One `.dockerignore` pattern: its kind (as moby classifies it) and its matchers.

Besides matching a path, a pattern can tell how it relates to everything
under a directory (`ALWAYS`, `NEVER`, `MAYBE`), which lets a walker skip
whole directories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from builder.context.dockerignore.errors import BadPatternError
from builder.context.dockerignore.gomatch import (
    DSTAR,
    DSTAR_END,
    LIT,
    RLIT,
    Token,
    compile_tokens,
    equals,
    tokenize,
)
from builder.context.dockerignore.gopath import go_clean
from builder.dockerfile.text import go_trim_space

_EXACT: Final = "exact"
_PREFIX: Final = "prefix"
_SUFFIX: Final = "suffix"
_REGEXP: Final = "regexp"

# How a pattern relates to the paths strictly inside a directory.
ALWAYS: Final = 0  # matches every one of them
NEVER: Final = 1  # matches none of them
MAYBE: Final = 2


def _classify(pattern: str) -> tuple[str, list[Token], bool]:
    """moby's match kind for a cleaned pattern, with the tokens that implement it."""
    raw, slash_class = tokenize(pattern, double_star=True)
    kind = _EXACT
    tokens: list[Token] = []
    for index, (tok, payload) in enumerate(raw):
        if tok == DSTAR:
            if index == len(raw) - 1:
                # `**` at the end: a prefix when nothing before it was a wildcard.
                if kind == _EXACT:
                    kind = _PREFIX
                else:
                    kind = _REGEXP
                    tok = DSTAR_END
            else:
                kind = _REGEXP
            if index == 0:
                kind = _SUFFIX
        elif tok != LIT:
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
            match = equals(p)
        elif kind == _PREFIX:
            prefix = p[:-2]
            match = _startswith(prefix)
        elif kind == _SUFFIX:
            match = _endswith(p[2:])
        else:
            match = compile_tokens(tokens)
        segments: list[Callable[[str], bool]] = []
        open_ended = False
        count = 0
        if kind in (_EXACT, _REGEXP) and not slash_class:
            current: list[Token] = []
            for tok, payload in tokens:
                if tok in (DSTAR, DSTAR_END):
                    open_ended = True
                    break
                if tok in (LIT, RLIT) and payload == "/":
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
                return ALWAYS  # the directory or a parent matches: parent matching covers all
        if self.kind == _SUFFIX:
            return ALWAYS if self.pattern == "**" else MAYBE
        if self.kind == _PREFIX:
            prefix = self.pattern[:-2]
            if parts and dir_slash.startswith(prefix):
                return ALWAYS
            return MAYBE if prefix.startswith(dir_slash) else NEVER
        if self._opaque:
            return MAYBE
        for segment, part in zip(self._segments, parts, strict=False):
            if not segment(part):
                return NEVER
        if not self._open_ended and self._segment_count <= len(parts):
            return NEVER
        return MAYBE


def _startswith(prefix: str) -> Callable[[str], bool]:
    def match(path: str) -> bool:
        return path.startswith(prefix)

    return match


def _endswith(suffix: str) -> Callable[[str], bool]:
    bare = suffix[1:] if suffix.startswith("/") else None

    def match(path: str) -> bool:
        return path.endswith(suffix) or path == bare

    return match


def _compile_segment(tokens: list[Token]) -> Callable[[str], bool]:
    if all(kind in (LIT, RLIT) for kind, _ in tokens):
        return equals("".join(payload for _, payload in tokens))
    return compile_tokens(tokens)
