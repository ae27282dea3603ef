"""The grammar: lists, pipelines, compound and simple commands, redirections.

`parse_script` is the way in; see the package docstring for what it finds
and how it treats bad input.
"""

from __future__ import annotations

import re
from typing import Final

from builder.lint.shell.model import Command, Script, Word, command_name, make_command
from builder.lint.shell.scanner import NAME_RE, WORD_END, ParseError
from builder.lint.shell.words import WordReader, heredoc_delimiter

_ASSIGNMENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_FD_RE: Final = re.compile(r"[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\}")
_OPEN_RESERVED: Final = frozenset({"if", "for", "select", "while", "until", "case", "function"})
_CLOSERS: Final = frozenset({"}", "then", "else", "elif", "fi", "do", "done", "esac", "in"})


class Parser(WordReader):
    """Recursive descent over the characters of one script."""

    __slots__ = ()

    def parse_script(self) -> None:
        """The whole script. Like ShellCheck, parsing stops quietly at a token that
        cannot start a command (`)`, `;;`, `fi`...) at the top level, keeping the
        commands before it; an error inside a construct fails the whole parse."""
        self.parse_list(frozenset(), top=True)
        if self.heredocs and self.i >= self.n:
            raise self.fail()

    def at_terminator(self, terminators: frozenset[str]) -> bool:
        if self.i >= self.n:
            return True
        c = self.s[self.i]
        if c == ")" and ")" in terminators:
            return True
        if c == ";" and (self.startswith(";;") or self.startswith(";&")):
            return ";;" in terminators
        word = self.reserved_word()
        return bool(word) and word in terminators

    def can_start_command(self) -> bool:
        c = self.peek()
        if c in (")", ";", "|") or (c == "&" and not self.startswith("&>")):
            return False
        return self.reserved_word() not in _CLOSERS

    def parse_list(self, terminators: frozenset[str], top: bool = False) -> None:
        """Commands separated by `;`, `&` and newlines, up to a terminator."""
        self.enter()
        while True:
            self.skip_separators()
            if self.at_terminator(terminators):
                break
            if top and not self.can_start_command():
                break
            self.parse_and_or()
            self.skip_blanks()
            c = self.peek()
            if c == "\n":
                self.newline()
            elif c == ";" and not self.startswith(";;") and not self.startswith(";&"):
                self.i += 1
            elif c == "&" and not self.startswith("&&") and not self.startswith("&>"):
                self.i += 1
                self.skip_blanks()
                if self.peek() == ";" and not self.startswith(";;"):  # `a &; b`
                    self.i += 1
            elif self.at_terminator(terminators) or top:
                break
            else:
                raise self.fail()
        self.leave()

    def parse_and_or(self) -> None:
        self.parse_pipeline()
        while True:
            self.skip_blanks()
            if self.startswith("&&") or self.startswith("||"):
                self.i += 2
                self.skip_separators()
                self.parse_pipeline()
            else:
                return

    def parse_pipeline(self) -> None:
        self.parse_command()
        while True:
            self.skip_blanks()
            if self.peek() == "|" and self.peek(1) != "|":
                self.i += 2 if self.peek(1) == "&" else 1
                self.has_pipes = True
                self.skip_separators()
                self.parse_command()
            else:
                return

    def parse_prefixes(self) -> bool:
        """`!` and `time [-p]` before a command; True when nothing follows them."""
        timed = False
        while True:
            self.skip_blanks()
            word = self.reserved_word()
            if word == "!":
                self.i += 1
            elif word == "time":
                # ShellCheck counts `time` as a command of its own, next to the timed one.
                self.commands.append(make_command("time", ()))
                timed = True
                self.i += 4
                self.skip_blanks()
                if self.reserved_word() == "-p":
                    self.i += 2
            else:
                break
        c = self.peek()
        return timed and (not c or c in "\n;&|)")

    def parse_command(self) -> None:
        self.enter()
        if self.parse_prefixes():  # `time` alone
            self.leave()
            return
        c = self.peek()
        if c == "(":
            if self.peek(1) == "(":
                self.skip_arithmetic(2)
            else:
                self.i += 1
                self.parse_list(frozenset({")"}))
                if self.peek() != ")":
                    raise self.fail()
                self.i += 1
            self.parse_redirections()
        else:
            word = self.reserved_word()
            if word == "{":
                self.i += 1
                self.parse_list(frozenset({"}"}))
                self.expect_word("}")
                self.parse_redirections()
            elif word in ("[[", "["):  # a condition, not a command (as in ShellCheck)
                self.i += len(word)
                self.skip_test("]]" if word == "[[" else "]")
                self.parse_redirections(check_word=False)
            elif word in _OPEN_RESERVED:
                self.i += len(word)
                getattr(self, "parse_" + word)()
                self.parse_redirections()
            elif word in _CLOSERS:
                raise self.fail()
            else:
                self.parse_simple()
        self.leave()

    def parse_redirections(self, check_word: bool = True) -> None:
        """Redirections after a compound command.

        A word after them ends the parse (at the top level) when it reads as a
        word, and fails it when it does not (ShellCheck reads it to warn),
        except after a test (`[ ]`, `[[ ]]`).
        """
        while True:
            self.skip_blanks()
            if not self.try_redirection(self.commands):
                break
        c = self.peek()
        if check_word and c and c not in WORD_END and c != "#":
            saved = self.i, self.has_pipes
            self.parse_word([])
            self.i, self.has_pipes = saved

    def parse_if(self) -> None:
        self.parse_list(frozenset({"then"}))
        self.expect_word("then")
        while True:
            self.parse_list(frozenset({"elif", "else", "fi"}))
            word = self.reserved_word()
            if word == "elif":
                self.i += 4
                self.parse_list(frozenset({"then"}))
                self.expect_word("then")
            elif word == "else":
                self.i += 4
                self.parse_list(frozenset({"fi"}))
                self.expect_word("fi")
                return
            else:
                self.expect_word("fi")
                return

    def parse_while(self) -> None:
        self.parse_list(frozenset({"do"}))
        self.parse_do_group()

    parse_until = parse_while

    def parse_do_group(self) -> None:
        self.expect_word("do")
        self.parse_list(frozenset({"done"}))
        self.expect_word("done")

    def parse_for(self) -> None:
        self.skip_blanks()
        if self.startswith("(("):
            self.skip_arithmetic(2)
        else:
            name = self.reserved_word()
            if not NAME_RE.fullmatch(name):
                raise self.fail()
            self.i += len(name)
            self.skip_separators()
            if self.reserved_word() == "in":
                self.i += 2
                sink: list[Command] = []
                while True:
                    self.skip_blanks()
                    c = self.peek()
                    if c in ("", "\n", ";"):
                        break
                    if c in WORD_END:
                        raise self.fail()
                    self.parse_word(sink)
                self.commands.extend(sink)
        self.skip_blanks()
        if self.peek() == ";":
            self.i += 1
        self.skip_separators()
        if self.reserved_word() == "{":  # bash: `for x in a; { ...; }`
            self.i += 1
            self.parse_list(frozenset({"}"}))
            self.expect_word("}")
            return
        self.parse_do_group()

    parse_select = parse_for

    def parse_case(self) -> None:
        self.skip_blanks()
        sink: list[Command] = []
        if self.peek() in WORD_END or not self.peek():
            raise self.fail()
        self.parse_word(sink)
        self.commands.extend(sink)
        self.expect_word("in")
        while True:
            self.skip_separators()
            if self.reserved_word() == "esac":
                self.i += 4
                return
            if self.i >= self.n:
                raise self.fail()
            if self.peek() == "(":
                self.i += 1
            while True:  # patterns
                self.skip_blanks()
                c = self.peek()
                if not c or c in WORD_END:
                    raise self.fail()
                self.parse_word(self.commands)
                self.skip_blanks()
                if self.peek() == "|":
                    self.i += 1
                    continue
                if self.peek() != ")":
                    raise self.fail()
                self.i += 1
                break
            self.parse_list(frozenset({";;", "esac"}))
            if self.startswith(";;&"):
                self.i += 3
            elif self.startswith(";;") or self.startswith(";&"):
                self.i += 2

    def parse_function(self) -> None:
        self.skip_blanks()
        name = self.reserved_word()
        if not name:
            raise self.fail()
        self.i += len(name)
        self.skip_blanks()
        if self.startswith("()"):
            self.i += 2
        elif self.peek() == "(":
            self.empty_parens()
        self.function_body()

    def empty_parens(self) -> None:
        """At the `(` after a function's name: blanks may separate it from the `)`."""
        self.i += 1
        self.skip_blanks()
        if self.peek() != ")":
            raise self.fail()
        self.i += 1

    def function_body(self) -> None:
        self.skip_separators()
        c = self.peek()
        word = self.reserved_word()
        if c != "(" and word not in ("{", "[[", "[") and word not in _OPEN_RESERVED:
            raise self.fail()
        self.parse_command()

    def skip_test(self, closer: str) -> None:
        """The inside of `[[ ... ]]` or `[ ... ]`: words and operators up to the closer."""
        while True:
            self.skip_blanks()
            if self.i >= self.n:
                raise self.fail()
            c = self.peek()
            if c == "\n":
                self.newline()
                continue
            if self.reserved_word() == closer:
                self.i += len(closer)
                return
            if c in "()<>!":
                self.i += 1
            elif c in "&|":
                self.i += 2 if self.peek(1) == c else 1
            elif c == ";":
                raise self.fail()
            else:
                self.parse_word(self.commands)

    def parse_simple(self) -> None:
        words: list[Word] = []
        nested: list[Command] = []
        assignments = 0
        begin = self.i
        while True:
            self.skip_blanks()
            if self.i >= self.n:
                break
            c = self.s[self.i]
            if c in "\n;|)":
                break
            if c == "&":
                if self.startswith("&>"):
                    self.try_redirection(nested)
                    continue
                break
            if c == "(":
                if len(words) == 1 and not assignments and words[0].literal:
                    self.empty_parens()
                    self.function_body()
                    return
                if not words:
                    raise self.fail()
                break  # ends the command; the list decides what `(` means
            if self.try_redirection(nested):
                continue
            start = self.i
            match = _ASSIGNMENT_RE.match(self.s, self.i)
            if match and not words:
                self.i = match.end()
                if self.peek() == "(":
                    self.skip_array(nested)
                elif self.peek() and self.peek() not in WORD_END:
                    self.parse_word(nested)
                assignments += 1
                continue
            if match and self.s.startswith("(", match.end()):  # `declare -a x=(1 2)`
                self.i = match.end()
                self.skip_array(nested)
                words.append(Word("", self.s[start : self.i], False))
                continue
            words.append(self.parse_word(nested))
            if self.i == start:  # cannot happen, but never loop forever
                raise self.fail()
        if self.i == begin:  # an empty command: `a && `, `;;`, `| b`
            raise self.fail()
        if words:
            name = command_name(words)
            if name is not None:
                self.commands.append(make_command(name, words[1:]))
        self.commands.extend(nested)

    def skip_array(self, sink: list[Command]) -> None:
        """`name=( a b c )`: the words of an array assignment."""
        self.i += 1
        while True:
            self.skip_separators()
            c = self.peek()
            if not c:
                raise self.fail()
            if c == ")":
                self.i += 1
                return
            if c in WORD_END:
                raise self.fail()
            self.parse_word(sink)

    def try_redirection(self, sink: list[Command]) -> bool:
        """A redirection at the read position: consume it, with its target."""
        j = self.i
        match = _FD_RE.match(self.s, j)
        if match:
            j = match.end()
        s = self.s
        if s.startswith("&>>", j):
            j += 3
        elif s.startswith("&>", j):
            j += 2
        elif j < self.n and s[j] in "<>":
            if (s.startswith("<(", j) or s.startswith(">(", j)) and j == self.i:
                return False  # process substitution: a word
            if s.startswith("<<<", j):
                j += 3
            elif s.startswith("<<-", j):
                self.i = j + 3
                self.heredoc_start(True)
                return True
            elif s.startswith("<<", j):
                self.i = j + 2
                self.heredoc_start(False)
                return True
            elif s.startswith((">>", "<&", ">&", "<>", ">|"), j):
                j += 2
            else:
                j += 1
        else:
            return False
        self.i = j
        self.skip_blanks()
        c = self.peek()
        if not c or c in WORD_END:
            raise self.fail()
        self.parse_word(sink)
        return True

    def heredoc_start(self, strip_tabs: bool) -> None:
        self.skip_blanks()
        c = self.peek()
        if not c or c in WORD_END:
            raise self.fail()
        word = self.parse_word([])
        self.heredocs.append((heredoc_delimiter(word.raw), strip_tabs))


def parse_script(text: str) -> Script:
    """Parse a shell script; never raises, never loops forever."""
    parser = Parser(text)
    try:
        parser.parse_script()
    except (ParseError, RecursionError):
        return Script(text, (), False, False)
    return Script(text, tuple(parser.commands), parser.has_pipes, True)
