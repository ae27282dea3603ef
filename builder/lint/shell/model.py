"""What the shell parser finds: words, simple commands and scripts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: The text ShellCheck's `oversimplify` gives every expansion.
EXPANSION: Final = "${VAR}"
_WRAPPERS: Final = frozenset({"builtin", "busybox", "command", "exec", "run"})


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
    return Command(name, tuple(words), args, tuple(range(len(args))), flags_of(args))


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script: its simple commands, in ShellCheck's order."""

    source: str
    commands: tuple[Command, ...]
    has_pipes: bool  #: a `|` or `|&` anywhere, substitutions included
    parsed: bool  #: False when the script is not valid shell (then no commands)

    def command_names(self) -> list[str]:
        return [c.name for c in self.commands]


def flags_of(args: Sequence[str]) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    for index, arg in enumerate(args):
        if arg in ("-", "--") or not arg.startswith("-"):
            continue
        if arg.startswith("--"):
            out.append((arg[2:].split("=", 1)[0], index))
        else:
            out.extend((char, index) for char in arg[1:])
    return tuple(out)


def command_name(words: Sequence[Word]) -> str | None:
    first = words[0]
    if not first.literal:
        return None
    name = first.text
    if name in _WRAPPERS and len(words) > 1:
        target = words[1]
        if not target.text.startswith("-"):
            return target.text if target.literal else None
    return name
