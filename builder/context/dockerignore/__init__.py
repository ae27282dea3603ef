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

The modules: `files` (finding and reading ignore files), `matcher`
(`IgnoreMatcher`), `pattern` (`IgnorePattern`), `gomatch` (Go's
`filepath.Match` syntax and matching), `gopath` (Go's `path.Clean`),
`errors`.
"""

from __future__ import annotations

from builder.context.dockerignore.errors import BadPatternError, DockerignoreError
from builder.context.dockerignore.files import (
    find_ignore_file,
    load_ignore_patterns,
    parse_ignore_file,
    read_ignore_lines,
)
from builder.context.dockerignore.gomatch import compile_go_match, go_match
from builder.context.dockerignore.gopath import contains_wildcards, go_clean
from builder.context.dockerignore.matcher import IgnoreMatcher
from builder.context.dockerignore.pattern import IgnorePattern

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
