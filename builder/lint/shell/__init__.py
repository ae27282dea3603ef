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

The modules: `model` (Word, Command, Script), `queries` (what rules ask of
commands), `parser` (the grammar and `parse_script`), `words` (quotes and
expansions), `scanner` (the read position), `arithmetic` (`$(( ))`).
"""

from __future__ import annotations

from builder.lint.shell.model import EXPANSION, Command, Script, Word, make_command
from builder.lint.shell.parser import parse_script
from builder.lint.shell.queries import (
    args_without_flags,
    cmd_has_args,
    cmd_has_prefix_arg,
    contains_run,
    drop_flag_args,
    find_commands,
    flag_count,
    flag_values,
    has_any_flag,
    has_arg,
    has_flag,
    is_pip_install,
    iter_commands,
    using_program,
)
from builder.lint.shell.scanner import MAX_DEPTH

__all__ = [
    "EXPANSION",
    "MAX_DEPTH",
    "Command",
    "Script",
    "Word",
    "args_without_flags",
    "cmd_has_args",
    "cmd_has_prefix_arg",
    "contains_run",
    "drop_flag_args",
    "find_commands",
    "flag_count",
    "flag_values",
    "has_any_flag",
    "has_arg",
    "has_flag",
    "is_pip_install",
    "iter_commands",
    "make_command",
    "parse_script",
    "using_program",
]
