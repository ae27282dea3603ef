"""Words: quotes, escapes, expansions and the substitutions inside them.

`WordReader.parse_word` reads one word and makes of it what ShellCheck's
`oversimplify` does (see the package docstring); the commands of `$( )`,
`<( )` and backticks inside the word are parsed by the grammar
(`Parser.parse_list`, `Parser.parse_script`) and go to the caller's sink.
"""

from __future__ import annotations

from typing import Final

from builder.lint.shell.arithmetic import looks_arithmetic
from builder.lint.shell.model import EXPANSION, Command, Word
from builder.lint.shell.scanner import MAX_DEPTH, NAME_RE, WORD_END, ParseError, Scanner

_SPECIAL_PARAMS: Final = frozenset("@*#?-$!0123456789")
_EXTGLOB_PREFIX: Final = frozenset("@!+*?")


class WordReader(Scanner):
    """Reads words; the grammar that nests inside them comes from `Parser`."""

    __slots__ = ()

    def parse_list(self, terminators: frozenset[str], top: bool = False) -> None:
        """A command list up to one of `terminators` (the grammar's, in `Parser`)."""
        raise NotImplementedError

    def parse_script(self) -> None:
        """A whole script (the grammar's, in `Parser`)."""
        raise NotImplementedError

    def parse_word(self, sink: list[Command]) -> Word:
        """One word; commands in its substitutions go to `sink`."""
        s, n = self.s, self.n
        start = self.i
        text: list[str] = []
        literal = True
        if s.startswith("<(", self.i) or s.startswith(">(", self.i):
            self.i += 2
            self.substitution(sink, ")")
            return Word(EXPANSION, s[start : self.i], False)
        while self.i < n:
            c = s[self.i]
            if c in WORD_END:
                if c == "(" and text and text[-1][-1:] in _EXTGLOB_PREFIX:
                    self.skip_extglob()  # ShellCheck's oversimplify drops `@(...)`
                    text[-1] = text[-1][:-1]
                    literal = False
                    continue
                break
            if c == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                if nxt == "\n":
                    self.i += 2
                    continue
                text.append(nxt)
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise self.fail()
                text.append(s[self.i + 1 : end])
                self.i = end + 1
            elif c == '"':
                self.i += 1
                literal &= self.double_quoted(text, sink)
            elif c == "$":
                literal &= self.dollar(text, sink)
            elif c == "`":
                self.backticks(sink)
                text.append(EXPANSION)
                literal = False
            elif c == "{" and self.brace_expansion():
                literal = False
            else:
                j = self.i + 1
                while j < n and s[j] not in WORD_END and s[j] not in "\\'\"$`{":
                    j += 1
                text.append(s[self.i : j])
                self.i = j
        return Word("".join(text), s[start : self.i], literal)

    def brace_expansion(self) -> bool:
        """`{a,b}` or `{1..3}`: skipped (ShellCheck's oversimplify drops it)."""
        s, n = self.s, self.n
        j = self.i + 1
        depth = 1
        comma = False
        while j < n:
            c = s[j]
            if c in WORD_END or c in "'\"$`\\":
                return False
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            elif c == "," and depth == 1:
                comma = True
            j += 1
        else:
            return False
        if not comma and ".." not in s[self.i : j]:
            return False
        self.i = j + 1
        return True

    def double_quoted(self, text: list[str], sink: list[Command]) -> bool:
        """After an opening `"`: up to the closing one. Returns whether it is literal."""
        s, n = self.s, self.n
        literal = True
        while True:
            if self.i >= n:
                raise self.fail()
            c = s[self.i]
            if c == '"':
                self.i += 1
                return literal
            if c == "\\":
                nxt = s[self.i + 1 : self.i + 2]
                if nxt == "\n":
                    pass
                elif nxt in ('"', "\\", "$", "`"):
                    text.append(nxt)
                else:
                    text.append("\\" + nxt)
                self.i += 2
            elif c == "$":
                if self.peek(1) in ("'", '"'):  # no `$'...'` or `$"..."` inside "..."
                    text.append("$")
                    self.i += 1
                else:
                    literal &= self.dollar(text, sink)
            elif c == "`":
                self.backticks(sink)
                text.append(EXPANSION)
                literal = False
            else:
                j = self.i + 1
                while j < n and s[j] not in '"\\$`':
                    j += 1
                text.append(s[self.i : j])
                self.i = j

    def dollar(self, text: list[str], sink: list[Command]) -> bool:
        """At a `$`: an expansion, or a literal `$`. Returns whether it is literal."""
        s = self.s
        nxt = self.peek(1)
        if nxt == "(":
            if self.peek(2) == "(":
                self.skip_arithmetic_expansion(sink)
            else:
                self.i += 2
                self.substitution(sink, ")")
            text.append(EXPANSION)
            return False
        if nxt == "{":
            self.i += 2
            self.skip_parameter(sink)
            text.append(EXPANSION)
            return False
        if nxt == "'":
            j = self.i + 2
            while j < self.n and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            if j >= self.n:
                raise self.fail()
            text.append(s[self.i + 2 : j])
            self.i = j + 1
            return True
        if nxt == '"':
            self.i += 2
            return self.double_quoted(text, sink)
        if nxt and nxt in _SPECIAL_PARAMS:
            self.i += 2
            text.append(EXPANSION)
            return False
        match = NAME_RE.match(s, self.i + 1)
        if match:
            self.i = match.end()
            text.append(EXPANSION)
            return False
        text.append("$")
        self.i += 1
        return True

    def skip_arithmetic_expansion(self, sink: list[Command]) -> None:
        """`$(( ... ))`; a `$((` that turns out to be `$( (...) )` is a substitution."""
        start = self.i
        try:
            self.i += 1  # the `$`
            self.skip_arithmetic(2)
            if self.s[self.i - 2 : self.i] != "))":
                raise self.fail()
            if not looks_arithmetic(self.s[start + 3 : self.i - 2]):
                raise self.fail()
        except ParseError:
            self.i = start + 2
            self.substitution(sink, ")")

    def skip_parameter(self, sink: list[Command]) -> None:
        """After `${`: up to the matching `}`, substitutions inside parsed."""
        s, n = self.s, self.n
        self.enter()  # `${a:-${b:-...}}` nests through `dollar`
        depth = 1
        while self.i < n:
            c = s[self.i]
            if c == "}":
                depth -= 1
                self.i += 1
                if depth == 0:
                    self.leave()
                    return
            elif c == "{":
                depth += 1
                self.i += 1
            elif c == "\\":
                self.i += 2
            elif c == "'":
                self.skip_quoted("'")
            elif c == '"':
                self.i += 1
                self.double_quoted([], sink)
            elif c == "$":
                self.dollar([], sink)
            elif c == "`":
                self.backticks(sink)
            else:
                self.i += 1
        raise self.fail()

    def substitution(self, sink: list[Command], closer: str) -> None:
        """After `$(` / `<(`: a nested script up to the closing `)`."""
        saved_commands, saved_heredocs = self.commands, self.heredocs
        self.commands, self.heredocs = sink, []
        self.enter()
        self.parse_list(frozenset({closer}))
        self.leave()
        if self.peek() != closer or self.heredocs:
            raise self.fail()
        self.i += 1
        self.commands, self.heredocs = saved_commands, saved_heredocs

    def backticks(self, sink: list[Command]) -> None:
        """A backquoted command substitution: its text unescaped, then parsed.

        A backquote inside ends it (bash has no nesting without escapes); when
        the text does not parse, the substitution counts as empty.
        """
        s, n = self.s, self.n
        j = self.i + 1
        inner: list[str] = []
        while j < n and s[j] != "`":
            if s[j] == "\\" and j + 1 < n and s[j + 1] in "`\\$":
                inner.append(s[j + 1])
                j += 2
            else:
                inner.append(s[j])
                j += 1
        if j >= n:
            raise self.fail()
        self.i = j + 1
        sub = type(self)("".join(inner))
        sub.depth = self.depth + 1
        if sub.depth > MAX_DEPTH:
            raise self.fail()
        try:
            sub.parse_script()
        except ParseError:
            return  # ShellCheck warns and goes on without the commands inside
        sink.extend(sub.commands)
        self.has_pipes |= sub.has_pipes


def heredoc_delimiter(raw: str) -> str:
    """The delimiter word with its quotes and backslashes removed."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        c = raw[i]
        if quote:
            if c == quote:
                quote = ""
            else:
                out.append(c)
        elif c in "'\"":
            quote = c
        elif c == "\\" and i + 1 < len(raw):
            i += 1
            out.append(raw[i])
        else:
            out.append(c)
        i += 1
    return "".join(out)
