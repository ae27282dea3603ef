"""The read position in a shell script and what moves it without making words.

`Scanner` holds the parser's state: the text, the position, the nesting
depth, the commands found so far and the here-documents still to skip. Its
methods skip blanks, comments, newlines (with pending here-document bodies),
quoted strings and balanced parentheses; `ParseError` is how the parser
gives up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from builder.lint.shell.model import Command

#: Nesting (substitutions, compound commands) deeper than this fails the parse.
MAX_DEPTH: Final = 100

#: Characters that end an unquoted word.
WORD_END: Final = frozenset(" \t\n;&|()<>")
BLANK: Final = frozenset(" \t")
#: A shell variable name.
NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ParseError(Exception):
    """The script is not valid shell (caught by `parse_script`)."""


class Scanner:
    """The state of a parse and the moves over text that holds no words."""

    __slots__ = ("commands", "depth", "has_pipes", "heredocs", "i", "n", "s")

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.depth = 0
        self.commands: list[Command] = []
        self.has_pipes = False
        self.heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)

    def fail(self) -> ParseError:
        return ParseError(self.i)

    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.s[j] if j < self.n else ""

    def startswith(self, text: str) -> bool:
        return self.s.startswith(text, self.i)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail()

    def leave(self) -> None:
        self.depth -= 1

    def skip_blanks(self) -> None:
        """Spaces, tabs, line continuations and comments; not newlines."""
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in BLANK:
                self.i += 1
            elif c == "\\" and self.i + 1 < n and s[self.i + 1] == "\n":
                self.i += 2
            elif c == "#":
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end
            else:
                break

    def newline(self) -> None:
        """Consume one newline, then the bodies of pending here-documents."""
        self.i += 1
        if self.heredocs:
            pending, self.heredocs = self.heredocs, []
            for delimiter, strip_tabs in pending:
                self.heredoc_body(delimiter, strip_tabs)

    def heredoc_body(self, delimiter: str, strip_tabs: bool) -> None:
        s, n = self.s, self.n
        while self.i < n:
            end = s.find("\n", self.i)
            line = s[self.i : n if end < 0 else end]
            self.i = n if end < 0 else end + 1
            if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                return
        raise self.fail()  # no end token

    def skip_separators(self) -> None:
        """Blanks and newlines (where a list may continue on the next line)."""
        while True:
            self.skip_blanks()
            if self.peek() == "\n":
                self.newline()
            else:
                return

    def reserved_word(self) -> str:
        """The literal word at the read position, if it could be a reserved word."""
        s, n, j = self.s, self.n, self.i
        while j < n and s[j] not in WORD_END and s[j] not in "\"'\\$`":
            j += 1
        if j < n and s[j] not in WORD_END:
            return ""
        return s[self.i : j]

    def expect_word(self, word: str) -> None:
        self.skip_separators()
        if self.reserved_word() != word:
            raise self.fail()
        self.i += len(word)

    def skip_quoted(self, quote: str) -> None:
        end = self.s.find(quote, self.i + 1)
        while end > 0 and quote != "'" and self.s[end - 1] == "\\":
            end = self.s.find(quote, end + 1)
        if end < 0:
            raise self.fail()
        self.i = end + 1

    def skip_arithmetic(self, opened: int) -> None:
        """Past the `))` that closes an arithmetic `((` (already at the first `(`)."""
        self.i += opened
        self.skip_balanced(opened, quotes="'\"`")

    def skip_extglob(self) -> None:
        """Past the parentheses of an extended glob `@(...)` (at the `(`)."""
        self.skip_balanced(0)

    def skip_balanced(self, depth: int, quotes: str = "") -> None:
        """Past the `)` that closes the `depth` parentheses open (and any opened
        on the way); a backslash escapes a character, and strings quoted with
        a character of `quotes` are skipped whole."""
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    self.i += 1
                    return
            elif c in quotes:
                self.skip_quoted(c)
                continue
            elif c == "\\":
                self.i += 1
            self.i += 1
        raise self.fail()
