"""A small shell parser for the scripts of RUN instructions.

hadolint hands every RUN script to ShellCheck's bash parser and then looks at
the *simple commands* it finds (`Hadolint/Shell.hs`). The rules only need
that much, so this module parses bash far enough to find them:

- lists and pipelines: `&&`, `||`, `;`, `&`, newlines, `|` and `|&`;
- compound commands: `( )`, `{ }`, `if`, `for`, `select`, `while`, `until`,
  `case`, `[[ ]]`, `(( ))`, function definitions, `!` and `time`;
- words: quotes, backslashes, line continuations, `$var`, `${...}`,
  `$( )`, backticks, `$(( ))`, `$'...'`, brace expansion, process
  substitution, redirections and here-documents (bodies skipped).

Commands nested in substitutions are found too, after the command whose
word holds them (ShellCheck walks its tree the same way).

A word's `text` is what ShellCheck's `oversimplify` makes of it: quotes
removed, escapes resolved, every expansion replaced by `${VAR}`, brace
expansions dropped. A command's name is its first word when that word is
literal (no expansion in it); the wrappers `builtin`, `busybox`, `command`,
`exec` and `run` stand for the command they run (ShellCheck's
`getCommandName`), while the arguments stay every word after the first.
Commands whose name is not literal are left out, as hadolint does.

ShellCheck's ways with bad input are kept, since they decide what hadolint
sees: a script that does not parse (an unterminated quote, `if` without
`fi`, a trailing `&&`...) has no commands at all; at the top level, parsing
stops quietly at a token that cannot start a command (`)`, `;;`, `fi`) and
keeps the commands before it; a backquoted substitution that does not parse
counts as empty; `$(( ... ))` that is not arithmetic is a subshell in a
command substitution; `time` counts as a command of its own.

The parser never raises on bad input: it reports `parsed=False`. Its work
is linear in the input, and nesting deeper than `MAX_DEPTH` counts as a
parse failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Command",
    "Script",
    "Word",
    "args_without_flags",
    "cmd_has_args",
    "cmd_has_prefix_arg",
    "drop_flag_args",
    "find_commands",
    "flag_values",
    "has_any_flag",
    "has_arg",
    "has_flag",
    "is_pip_install",
    "parse_script",
    "using_program",
]

#: Nesting (substitutions, compound commands) deeper than this fails the parse.
MAX_DEPTH: Final = 100

#: The text ShellCheck's `oversimplify` gives every expansion.
EXPANSION: Final = "${VAR}"

#: Characters that end an unquoted word.
_WORD_END: Final = frozenset(" \t\n;&|()<>")
_BLANK: Final = frozenset(" \t")
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_FD_RE: Final = re.compile(r"[0-9]+|\{[A-Za-z_][A-Za-z0-9_]*\}")
_SPECIAL_PARAMS: Final = frozenset("@*#?-$!0123456789")
_WRAPPERS: Final = frozenset({"builtin", "busybox", "command", "exec", "run"})
_EXTGLOB_PREFIX: Final = frozenset("@!+*?")


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command."""

    text: str  #: quotes removed, escapes resolved, expansions as `${VAR}`
    raw: str  #: as written
    literal: bool  #: no expansion or substitution in it


@dataclass(frozen=True, slots=True)
class Command:
    """A simple command: its name and the words after its first word.

    `ids` number the words as ShellCheck's token ids do (only their order
    matters): they survive `drop_flag_args`, so a flag still points at the
    word after it.
    """

    name: str
    words: tuple[Word, ...]
    args: tuple[str, ...]  #: the words' text
    ids: tuple[int, ...]
    #: hadolint's flags: (name, id of the word it came from); `-xy` gives x and y,
    #: `--name=value` gives name; `-` and `--` give none.
    flags: tuple[tuple[str, int], ...]


def make_command(name: str, words: Sequence[Word]) -> Command:
    """A command named `name` whose arguments are `words`."""
    args = tuple(w.text for w in words)
    return Command(name, tuple(words), args, tuple(range(len(args))), _flags_of(args))


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script: its simple commands, in ShellCheck's order."""

    source: str
    commands: tuple[Command, ...]
    has_pipes: bool  #: a `|` or `|&` anywhere, substitutions included
    parsed: bool  #: False when the script is not valid shell (then no commands)

    def command_names(self) -> list[str]:
        return [c.name for c in self.commands]


def parse_script(text: str) -> Script:
    """Parse a shell script; never raises, never loops forever."""
    parser = _Parser(text)
    try:
        parser.parse_script()
    except (_ParseError, RecursionError):
        return Script(text, (), False, False)
    return Script(text, tuple(parser.commands), parser.has_pipes, True)


# ---------------------------------------------------------------------------
# Queries on commands (hadolint's Shell.hs helpers)
# ---------------------------------------------------------------------------


def _flags_of(args: Sequence[str]) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for index, arg in enumerate(args):
        if arg in ("-", "--") or not arg.startswith("-"):
            continue
        if arg.startswith("--"):
            out.append((arg[2:].split("=", 1)[0], index))
        else:
            out.extend((char, index) for char in arg[1:])
    return tuple(out)


def _plain(flag: str) -> str:
    return flag.lstrip("-") if flag.startswith("-") and flag not in ("-", "--") else flag


def has_flag(cmd: Command, flag: str) -> bool:
    """`-y` / `y`: the command has that flag (`-xy` has both x and y)."""
    name = _plain(flag)
    return any(f == name for f, _ in cmd.flags)


def has_any_flag(cmd: Command, flags: Iterable[str]) -> bool:
    names = {_plain(f) for f in flags}
    return any(f in names for f, _ in cmd.flags)


def flag_count(cmd: Command, flag: str) -> int:
    name = _plain(flag)
    return sum(1 for f, _ in cmd.flags if f == name)


def has_arg(cmd: Command, arg: str) -> bool:
    """Some argument is exactly `arg`."""
    return arg in cmd.args


def cmd_has_args(cmd: Command, name: str, args: Iterable[str]) -> bool:
    """The command is `name` and one of its arguments is one of `args`."""
    if cmd.name != name:
        return False
    wanted = set(args)
    return any(a in wanted for a in cmd.args)


def cmd_has_prefix_arg(cmd: Command, name: str, prefix: str) -> bool:
    return cmd.name == name and any(a.startswith(prefix) for a in cmd.args)


def args_without_flags(cmd: Command) -> list[str]:
    """The arguments that are not flags (a flag's value counts as an argument)."""
    flag_ids = {i for _, i in cmd.flags}
    return [a for a, i in zip(cmd.args, cmd.ids, strict=True) if i not in flag_ids]


def _next_id(cmd: Command, flag_id: int) -> int | None:
    for i in cmd.ids:
        if i > flag_id:
            return i
    return None


def drop_flag_args(cmd: Command, flags: Iterable[str]) -> Command:
    """The command without the word after each of `flags` (that flag's value).

    Like hadolint, the word after the flag goes even when the value was
    attached (`--target=x pkg` loses `pkg`); the flags themselves stay.
    """
    names = {_plain(f) for f in flags}
    drop = {_next_id(cmd, i) for f, i in cmd.flags if f in names}
    drop.discard(None)
    if not drop:
        return cmd
    keep = [k for k, i in enumerate(cmd.ids) if i not in drop]
    return Command(
        cmd.name,
        tuple(cmd.words[k] for k in keep),
        tuple(cmd.args[k] for k in keep),
        tuple(cmd.ids[k] for k in keep),
        cmd.flags,
    )


def flag_values(cmd: Command, flag: str) -> list[str]:
    """The word after each occurrence of `flag` (hadolint's getFlagArg)."""
    name = _plain(flag)
    wanted = {_next_id(cmd, i) for f, i in cmd.flags if f == name}
    return [a for a, i in zip(cmd.args, cmd.ids, strict=True) if i in wanted]


def is_pip_install(cmd: Command) -> bool:
    """`pip* install ...` or `python* -m pip install ...`."""
    if cmd.name.startswith("pip"):
        return "install" in cmd.args
    if cmd.name.startswith("python"):
        return _contains_run(cmd.args, ("-m", "pip", "install"))
    return False


def _contains_run(args: Sequence[str], run: Sequence[str]) -> bool:
    n = len(run)
    return any(tuple(args[i : i + n]) == tuple(run) for i in range(len(args) - n + 1))


def contains_run(args: Sequence[str], run: Sequence[str]) -> bool:
    """`run` appears as consecutive arguments (Haskell's isInfixOf on lists)."""
    return _contains_run(args, run)


def find_commands(script: Script, name: str) -> list[Command]:
    return [c for c in script.commands if c.name == name]


def using_program(script: Script, name: str) -> bool:
    return any(c.name == name for c in script.commands)


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


class _ParseError(Exception):
    pass


_OPEN_RESERVED: Final = frozenset({"if", "for", "select", "while", "until", "case", "function"})
_CLOSERS: Final = frozenset({"}", "then", "else", "elif", "fi", "do", "done", "esac", "in"})


class _Parser:
    """Recursive descent over the characters of one script."""

    __slots__ = ("commands", "depth", "has_pipes", "heredocs", "i", "n", "s")

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.depth = 0
        self.commands: list[Command] = []
        self.has_pipes = False
        self.heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip tabs)

    # -- helpers -------------------------------------------------------------

    def fail(self) -> _ParseError:
        return _ParseError(self.i)

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
            if c in _BLANK:
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
        while j < n and s[j] not in _WORD_END and s[j] not in "\"'\\$`":
            j += 1
        if j < n and s[j] not in _WORD_END:
            return ""
        return s[self.i : j]

    def expect_word(self, word: str) -> None:
        self.skip_separators()
        if self.reserved_word() != word:
            raise self.fail()
        self.i += len(word)

    # -- lists ---------------------------------------------------------------

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

    # -- commands ------------------------------------------------------------

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
        if check_word and c and c not in _WORD_END and c != "#":
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
            if not _NAME_RE.fullmatch(name):
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
                    if c in _WORD_END:
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
        if self.peek() in _WORD_END or not self.peek():
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
                if not c or c in _WORD_END:
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
            self.i += 1
            self.skip_blanks()
            if self.peek() != ")":
                raise self.fail()
            self.i += 1
        self.function_body()

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

    def skip_arithmetic(self, opened: int) -> None:
        """Past the `))` that closes an arithmetic `((` (already at the first `(`)."""
        self.i += opened
        depth = opened
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
            elif c in "'\"`":
                self.skip_quoted(c)
                continue
            elif c == "\\":
                self.i += 1
            self.i += 1
        raise self.fail()

    def skip_quoted(self, quote: str) -> None:
        end = self.s.find(quote, self.i + 1)
        while end > 0 and quote != "'" and self.s[end - 1] == "\\":
            end = self.s.find(quote, end + 1)
        if end < 0:
            raise self.fail()
        self.i = end + 1

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
                    self.i += 1
                    self.skip_blanks()
                    if self.peek() != ")":
                        raise self.fail()
                    self.i += 1
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
                elif self.peek() and self.peek() not in _WORD_END:
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
            name = _command_name(words)
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
            if c in _WORD_END:
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
        if not c or c in _WORD_END:
            raise self.fail()
        self.parse_word(sink)
        return True

    def heredoc_start(self, strip_tabs: bool) -> None:
        self.skip_blanks()
        c = self.peek()
        if not c or c in _WORD_END:
            raise self.fail()
        word = self.parse_word([])
        self.heredocs.append((_heredoc_delimiter(word.raw), strip_tabs))

    # -- words ---------------------------------------------------------------

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
            if c in _WORD_END:
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
                while j < n and s[j] not in _WORD_END and s[j] not in "\\'\"$`{":
                    j += 1
                text.append(s[self.i : j])
                self.i = j
        return Word("".join(text), s[start : self.i], literal)

    def skip_extglob(self) -> None:
        depth = 0
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
            elif c == "\\":
                self.i += 1
            self.i += 1
        raise self.fail()

    def brace_expansion(self) -> bool:
        """`{a,b}` or `{1..3}`: skipped (ShellCheck's oversimplify drops it)."""
        s, n = self.s, self.n
        j = self.i + 1
        depth = 1
        comma = False
        while j < n:
            c = s[j]
            if c in _WORD_END or c in "'\"$`\\":
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
        match = _NAME_RE.match(s, self.i + 1)
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
            if not _looks_arithmetic(self.s[start + 3 : self.i - 2]):
                raise self.fail()
        except _ParseError:
            self.i = start + 2
            self.substitution(sink, ")")

    def skip_parameter(self, sink: list[Command]) -> None:
        """After `${`: up to the matching `}`, substitutions inside parsed."""
        s, n = self.s, self.n
        depth = 1
        while self.i < n:
            c = s[self.i]
            if c == "}":
                depth -= 1
                self.i += 1
                if depth == 0:
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
        sub = _Parser("".join(inner))
        sub.depth = self.depth + 1
        if sub.depth > MAX_DEPTH:
            raise self.fail()
        try:
            sub.parse_script()
        except _ParseError:
            return  # ShellCheck warns and goes on without the commands inside
        sink.extend(sub.commands)
        self.has_pipes |= sub.has_pipes


_ARITH_TOKEN_RE: Final = re.compile(
    r"\s*(?:(?P<operand>[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9A-Za-z#]*|\$\{[^}]*\}"
    r"|\$[A-Za-z_0-9@*#?$!-][A-Za-z0-9_]*|'[^']*'|\"[^\"]*\")"
    r"|(?P<op><<=|>>=|\*\*=?|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|[-+*/%&^|]=|[-+*/%<>=!&|^~?:,\[\]()]))"
)
_UNARY: Final = frozenset({"+", "-", "!", "~", "++", "--", "("})


def _looks_arithmetic(text: str) -> bool:
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


def _heredoc_delimiter(raw: str) -> str:
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


def _command_name(words: Sequence[Word]) -> str | None:
    first = words[0]
    if not first.literal:
        return None
    name = first.text
    if name in _WRAPPERS and len(words) > 1:
        target = words[1]
        if not target.text.startswith("-"):
            return target.text if target.literal else None
    return name


def iter_commands(scripts: Iterable[Script]) -> Iterator[Command]:
    for script in scripts:
        yield from script.commands
