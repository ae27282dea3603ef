"""Dockerfile word expansion, the way BuildKit does it.

BuildKit expands `$VAR` and `${VAR...}` in instruction arguments with a
small shell-like lexer (`frontend/dockerfile/shell/lex.go`).  This module
reproduces its observable behaviour:

- `$NAME`, `${NAME}`; a name is letters, digits and `_`, or a run of digits
  (`$12`), or one special parameter (`$@ $* $# $? $- $$ $! $0`).  A `$` that
  starts no name stays a literal `$` (`$.`, trailing `$`).
- `${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?msg} ${V?msg}`: with the colon an empty
  value counts as unset.
- `${V#p} ${V##p} ${V%p} ${V%%p}`: trim the shortest / longest prefix or
  suffix matching the pattern; `${V/p/r} ${V//p/r}`: replace the first / every
  match.  Patterns know `*`, `?` and backslash escapes (`\\*`, `\\?`, `\\\\`,
  and `\\}` / `\\/` to write the delimiters); like BuildKit, `[` and `]` are
  literal characters, not bracket expressions.
- Single quotes keep everything literal; double quotes keep everything but
  `$` expansions and escapes of `"`, `$` and the escape character itself.
- The escape character (backslash, or the backtick that an escape directive
  selects) makes the next character literal; a trailing one is dropped.
- With `skip_quotes` (BuildKit's SkipProcessQuotes, used for the bodies of
  COPY/ADD heredocs) quotes are ordinary characters: kept, and no protection.

Pattern matching for the trim and replace forms is in `shell_patterns`.

`ShellLexer.expand_words` also splits the result into words the way BuildKit
does: whitespace coming from the source text or from unquoted expansions
separates words; quoted or escaped whitespace does not, and empty words are
dropped (`a "" b` gives two words).

Behaviour kept on purpose because BuildKit has it: in `${V//p/r}` the
replacement goes through Go's regexp template expansion (`$0` or `${0}`
inserts the match, any other `$name` is empty, `$$` is `$`), while `${V/p/r}`
inserts it verbatim; with `raw_escapes` an escape inside double quotes that
escapes nothing is written twice; a byte order mark at the very start of a
word is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from builder.dockerfile.shell_patterns import (
    PatternError,
    replace_pattern,
    trim_prefix,
    trim_suffix,
)

__all__ = ["MAX_NESTING", "ExpansionError", "ShellLexer"]

#: Characters Go's `unicode.IsSpace` accepts: the word separators.
_GO_SPACE_CLASS: Final = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_GO_SPACE_RUN: Final = re.compile(f"[{_GO_SPACE_CLASS}]+")
#: Characters Python's `str.split()` treats as spaces but Go does not.
_PY_ONLY_SPACE: Final = re.compile("[\x1c-\x1f]")
#: Special parameters: a `$` followed by one of these names a one-character variable.
_SPECIAL_PARAMS: Final = frozenset("@*#?-$!0")
_VALID_ESCAPES: Final = ("\\", "`")
#: What Go's `%c` prints for the scanner's EOF (rune -1).
_EOF_RUNE: Final = "\ufffd"
_BOM: Final = "\ufeff"
#: How deep `${...}` may nest inside one word (BuildKit has no limit; Go's stack
#: grows). Deeper words fail with an ExpansionError instead of exhausting
#: Python's stack.
MAX_NESTING: Final = 100
#: How the reasons for a malformed word start (the others depend on the values).
_SYNTAX_REASONS: Final = ("syntax error", "unsupported modifier", "unexpected end of statement")


def _specials(chars: str) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


#: (escape char, stop char or "") -> the characters that end a run of plain text.
_WORD_SPECIALS: Final = MappingProxyType(
    {
        (esc, stop): _specials("$'\"" + esc + stop)
        for esc in _VALID_ESCAPES
        for stop in ("", "}", "/")
    }
)
#: The same, when quotes are plain text (`skip_quotes`: COPY/ADD heredoc bodies).
_WORD_SPECIALS_NO_QUOTES: Final = MappingProxyType(
    {(esc, stop): _specials("$" + esc + stop) for esc in _VALID_ESCAPES for stop in ("", "}", "/")}
)
#: escape char -> the characters that end a run of plain text inside double quotes.
_DQUOTE_SPECIALS: Final = MappingProxyType({esc: _specials('"$' + esc) for esc in _VALID_ESCAPES})


class ExpansionError(ValueError):
    """A word cannot be expanded: bad `${...}` syntax, an unclosed quote, `${V?}` on unset V.

    `reason` is BuildKit's message (`syntax error: bad substitution`,
    `VAR: is not allowed to be unset`...); `word` is the word being expanded.
    `str()` gives BuildKit's full text: `failed to process "<word>": <reason>`.
    """

    def __init__(self, reason: str, word: str | None = None) -> None:
        self.reason = reason
        self.word = word
        if word is None:
            super().__init__(reason)
        else:
            super().__init__(f"failed to process {_go_quote(_shorten(word))}: {reason}")

    @property
    def malformed(self) -> bool:
        """Whether the word itself is wrong (bad `${...}` syntax, an unclosed quote),
        so that it fails whatever the variables hold."""
        return self.reason.startswith(_SYNTAX_REASONS)

    def __reduce__(self) -> tuple[type[ExpansionError], tuple[str, str | None]]:
        return (type(self), (self.reason, self.word))


@dataclass(frozen=True)
class ShellLexer:
    """Expands variables in Dockerfile words; one instance per escape character and mode.

    Instances are immutable and hold no per-call state: share them freely,
    across threads too.
    """

    escape: str = "\\"  #: the escape character: backslash, or backtick (escape directive)
    raw_quotes: bool = False  #: keep the quote characters in the output (BuildKit's RawQuotes)
    raw_escapes: bool = False  #: keep escape characters in the output (BuildKit's RawEscapes)
    #: quotes are plain characters, kept and not special (BuildKit's SkipProcessQuotes,
    #: which expands the bodies of COPY/ADD heredocs)
    skip_quotes: bool = False

    def __post_init__(self) -> None:
        if self.escape not in _VALID_ESCAPES:
            raise ValueError(f"escape must be '\\' or '`', not {self.escape!r}")

    def expand_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand `word` into a single string, spaces kept (BuildKit's ProcessWord)."""
        return self._expand(word, env, split=False)[0]

    def expand_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand `word` and split the result into words (BuildKit's ProcessWords)."""
        return self._expand(word, env, split=True)[1]

    def expand_word_with_matches(
        self, word: str, env: Mapping[str, str]
    ) -> tuple[str, set[str], set[str]]:
        """Expand `word`; also return the names found in `env` and the names referenced
        but not set (BuildKit's ProcessWordWithMatches; lint's UndefinedVar uses the latter).
        """
        result, _, matched, unmatched = self._expand(word, env, split=False)
        return result, matched, unmatched

    def _expand(
        self, word: str, env: Mapping[str, str], split: bool
    ) -> tuple[str, list[str], set[str], set[str]]:
        text = word[1:] if word[:1] == _BOM else word
        if "$" not in text and "'" not in text and '"' not in text and self.escape not in text:
            return text, (_split_fields(text) if split else []), set(), set()
        expansion = _Expansion(text, env, self.escape, self.raw_quotes, self.skip_quotes)
        try:
            result, words = expansion.process_until("", self.raw_escapes, split)
        except _Failure as failure:
            raise ExpansionError(failure.reason, word) from None
        return result, words, expansion.matched, expansion.unmatched


class _Failure(Exception):
    """Internal: expansion failed; turned into ExpansionError with the whole word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Words:
    """Collects the words of an expansion (BuildKit's word splitting)."""

    __slots__ = ("current", "words")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.current: list[str] = []

    def add_raw(self, text: str) -> None:
        """Quoted or escaped text: whitespace in it does not separate words."""
        self.current.append(text)

    def add_split(self, text: str) -> None:
        """Plain text or an unquoted expansion: whitespace in it separates words."""
        pieces = _GO_SPACE_RUN.split(text)
        self.current.append(pieces[0])
        for piece in pieces[1:]:
            self.finish_word()
            self.current.append(piece)

    def finish_word(self) -> None:
        if self.current:
            word = "".join(self.current)
            if word:
                self.words.append(word)
                self.current.clear()

    def result(self) -> list[str]:
        self.finish_word()
        return self.words


class _Expansion:
    """The state of one expansion: the text, a read position, the names looked up.

    Methods mirror the structure of BuildKit's lexer so that the read position
    at an error (which picks the error message) is the same as BuildKit's.
    """

    __slots__ = (
        "depth", "env", "escape", "matched", "n", "pos", "raw_quotes", "specials", "text",
        "unmatched",
    )  # fmt: skip

    def __init__(
        self, text: str, env: Mapping[str, str], escape: str, raw_quotes: bool, skip_quotes: bool
    ) -> None:
        self.specials = _WORD_SPECIALS_NO_QUOTES if skip_quotes else _WORD_SPECIALS
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.depth = 0  #: how many `${` are open at the read position
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    def _next(self) -> str:
        """Consume one character; "" at the end."""
        if self.pos >= self.n:
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def _at_end(self) -> bool:
        return self.pos >= self.n

    def process_until(self, stop: str, raw_escapes: bool, split: bool) -> tuple[str, list[str]]:
        """Expand up to the unquoted, unescaped `stop` character (consumed) or, with
        `stop == ""`, to the end; return the text and, if `split`, its words.
        """
        text, n, escape = self.text, self.n, self.escape
        specials = self.specials[escape, stop]
        out: list[str] = []
        words = _Words() if split else None
        while self.pos < n:
            match = specials.search(text, self.pos)
            end = match.start() if match else n
            if end > self.pos:
                plain = text[self.pos : end]
                out.append(plain)
                if words is not None:
                    words.add_split(plain)
                self.pos = end
                if match is None:
                    break
            ch = text[end]
            if ch == stop:
                self.pos += 1
                return "".join(out), (words.result() if words is not None else [])
            if ch == "$":
                value = self._dollar()
                out.append(value)
                if words is not None:
                    words.add_split(value)
            elif ch == "'":
                value = self._single_quote()
                out.append(value)
                if words is not None:
                    words.add_raw(value)
            elif ch == '"':
                value = self._double_quote(raw_escapes)
                out.append(value)
                if words is not None:
                    words.add_raw(value)
            else:  # the escape character
                self.pos += 1
                if raw_escapes:
                    out.append(ch)
                    if words is not None:
                        words.add_raw(ch)
                if self.pos >= n:
                    break  # a trailing escape character is dropped
                escaped = text[self.pos]
                self.pos += 1
                out.append(escaped)
                if words is not None:
                    words.add_raw(escaped)
        if stop:
            raise _Failure(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), (words.result() if words is not None else [])

    def _single_quote(self) -> str:
        start = self.pos + 1
        end = self.text.find("'", start)
        if end < 0:
            self.pos = self.n
            raise _Failure("unexpected end of statement while looking for matching single-quote")
        self.pos = end + 1
        return self.text[start - 1 : end + 1] if self.raw_quotes else self.text[start:end]

    def _double_quote(self, raw_escapes: bool) -> str:
        text, n, escape = self.text, self.n, self.escape
        specials = _DQUOTE_SPECIALS[escape]
        self.pos += 1
        out: list[str] = ['"'] if self.raw_quotes else []
        while True:
            match = specials.search(text, self.pos)
            if match is None:
                self.pos = n
                raise _Failure(
                    "unexpected end of statement while looking for matching double-quote"
                )
            end = match.start()
            out.append(text[self.pos : end])
            ch = text[end]
            if ch == '"':
                self.pos = end + 1
                if self.raw_quotes:
                    out.append('"')
                return "".join(out)
            if ch == "$":
                self.pos = end
                out.append(self._dollar())
                continue
            # The escape character: it escapes only `"`, `$` and itself; before
            # anything else it is kept (twice with raw_escapes, as BuildKit does).
            self.pos = end + 1
            if raw_escapes:
                out.append(ch)
            if self.pos >= n:
                continue  # dropped; the loop then reports the missing quote
            following = text[self.pos]
            if following in ('"', "$", escape):
                self.pos += 1
                out.append(following)
            else:
                out.append(ch)

    def _name(self) -> str:
        """Read a parameter name at the current position ("" if there is none)."""
        text, n, start = self.text, self.n, self.pos
        if start >= n:
            return ""
        first = text[start]
        pos = start + 1
        if first.isdecimal():
            while pos < n and text[pos].isdecimal():
                pos += 1
        elif first in _SPECIAL_PARAMS:
            pass
        elif first.isalpha() or first == "_":
            while pos < n and (text[pos].isalpha() or text[pos].isdecimal() or text[pos] == "_"):
                pos += 1
        else:
            return ""
        self.pos = pos
        return text[start:pos]

    def _lookup(self, name: str) -> tuple[str, bool]:
        try:
            value = self.env[name]
        except KeyError:
            self.unmatched.add(name)
            return "", False
        self.matched.add(name)
        return value, True

    def _dollar(self) -> str:
        """Expand the `$...` at the current position."""
        self.pos += 1  # the `$`
        if self._at_end() or self.text[self.pos] != "{":
            name = self._name()
            if not name:
                return "$"
            return self._lookup(name)[0]

        self.pos += 1  # the `{`
        if self._at_end():
            raise _Failure("syntax error: missing '}'")
        if self.text[self.pos] in "{}:":
            raise _Failure("syntax error: bad substitution")
        # Every recursion of the lexer passes here: bound it.
        if self.depth >= MAX_NESTING:
            raise _Failure(f"syntax error: ${{...}} nested more than {MAX_NESTING} levels deep")
        self.depth += 1
        try:
            return self._braced()
        finally:
            self.depth -= 1

    def _braced(self) -> str:
        """After `${`: the name, the operator and its word, up to the closing `}`."""
        name = self._name()
        op = self._next()
        if op == "}":
            return self._lookup(name)[0]
        if op and op in "+-?#%:":
            return self._modifier(name, op)
        if op == "/":
            return self._replace(name)
        raise _Failure(f"unsupported modifier ({op or _EOF_RUNE}) in substitution")

    def _modifier(self, name: str, op: str) -> str:
        """`${name<op>word}` for op in `+ - ? # %`, or `:` followed by one of them."""
        null_is_unset = op == ":"
        label = op
        if null_is_unset:
            op = self._next()
            label = ":" + (op or _EOF_RUNE)
        trim = op in ("#", "%")
        if null_is_unset and trim:
            raise _Failure(f"unsupported modifier ({label}) in substitution")
        # After `:` BuildKit reads the word whatever the operator is, then rejects it.
        word = self._word_until_brace(raw_escapes=trim)
        value, is_set = self._lookup(name)
        unset = not is_set or (null_is_unset and value == "")
        if op == "-":
            return word if unset else value
        if op == "+":
            return "" if unset else word
        if op == "?":
            if not is_set:
                raise _Failure(f"{name}: {word or 'is not allowed to be unset'}")
            if unset:
                raise _Failure(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if trim:
            longest = word[:1] == op
            if longest:
                word = word[1:]
            trimmer = trim_prefix if op == "#" else trim_suffix
            try:
                return trimmer(word, value, longest)
            except PatternError as err:
                raise _Failure(str(err)) from None
        raise _Failure(f"unsupported modifier ({label}) in substitution")

    def _word_until_brace(self, raw_escapes: bool) -> str:
        try:
            return self.process_until("}", raw_escapes, False)[0]
        except _Failure:
            if self._at_end():
                raise _Failure("syntax error: missing '}'") from None
            raise

    def _replace(self, name: str) -> str:
        """`${name/pattern/replacement}` and `${name//pattern/replacement}`."""
        replace_all = not self._at_end() and self.text[self.pos] == "/"
        if replace_all:
            self.pos += 1
        try:
            pattern = self.process_until("/", True, False)[0]
        except _Failure:
            if self._at_end():
                raise _Failure("syntax error: missing '/' in ${}") from None
            raise
        replacement = self._word_until_brace(raw_escapes=True)
        value = self._lookup(name)[0]
        try:
            return replace_pattern(pattern, value, replacement, replace_all)
        except PatternError as err:
            raise _Failure(str(err)) from None


def _split_fields(text: str) -> list[str]:
    """Split plain text on Go whitespace, dropping empty words."""
    if _PY_ONLY_SPACE.search(text) is None:
        return text.split()
    return [word for word in _GO_SPACE_RUN.split(text) if word]


def _shorten(word: str, keep: int = 100) -> str:
    """A word for an error message: a long one (a generated or hostile one) keeps its
    first and last `keep` characters."""
    if len(word) <= 2 * keep + 3:
        return word
    return f"{word[:keep]}...{word[-keep:]}"


_GO_CONTROL_ESCAPES: Final = MappingProxyType(
    {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
)


def _go_quote(text: str) -> str:
    """Quote a string like Go's `%q`, for error messages identical to BuildKit's."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_CONTROL_ESCAPES:
            out.append(_GO_CONTROL_ESCAPES[ch])
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
