"""The Dockerfile syntax tree, as the parser produces it.

This layer is BuildKit's parser output in typed form: every instruction keeps
its raw text and line span, its flags as written (`--from=b`), and its
arguments split the way BuildKit splits them, *before* variable expansion
(expansion depends on the ARG/ENV state at each step, see
`builder.dockerfile.shell_lexer`). Typed, validated instructions
(`FROM`, `COPY` with parsed flags...) live in `builder.dockerfile.commands`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

#: Every instruction keyword BuildKit knows, lower-case.
KEYWORDS: frozenset[str] = frozenset(
    {
        "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from",
        "healthcheck", "label", "maintainer", "onbuild", "run", "shell",
        "stopsignal", "user", "volume", "workdir",
    }
)  # fmt: skip

#: Instructions whose shell form may carry heredocs (`RUN <<EOF`).
HEREDOC_KEYWORDS: frozenset[str] = frozenset({"add", "copy", "run"})


@dataclass(frozen=True)
class Heredoc:
    """A here-document attached to an instruction (`<<EOF ... EOF`)."""

    name: str  #: the delimiter word, quotes removed
    file_descriptor: int  #: `3<<EOF` gives 3; 0 when not written
    expand: bool  #: False when the delimiter was quoted (`<<'EOF'`): no expansion
    chomp: bool  #: `<<-EOF`: leading tabs are stripped from the body
    content: str  #: the body, every line with its newline; not chomped


@dataclass(frozen=True)
class KeyValue:
    """One `key=value` (or legacy `key value`) pair of ENV or LABEL, unexpanded."""

    key: str
    value: str  #: quotes and escapes kept as written
    separator: str  #: "=" or "" for the legacy space form


@dataclass(slots=True)  # not frozen: frozen dataclasses are slow to build, and we build many
class Instruction:
    """One instruction of a Dockerfile, as written.

    `args` are BuildKit's parsed arguments: the JSON array items in exec form,
    the one shell string in shell form, whitespace-split words for FROM,
    EXPOSE, VOLUME, COPY/ADD (non-JSON), words for ARG, and the flattened
    key/value pairs for ENV and LABEL (see also `key_values`).
    """

    keyword: str  #: lower-case instruction name: "run", "copy"; unknown ones kept too
    written_keyword: str  #: as written: "Run"
    flags: tuple[str, ...]  #: builder flags as written: ("--from=build", "--link")
    args: tuple[str, ...]
    json: bool  #: exec (JSON array) form
    start_line: int  #: 1-based, first line of the instruction
    end_line: int  #: 1-based, last line, heredoc bodies included
    original: str  #: the logical line: continuations joined, comments dropped
    key_values: tuple[KeyValue, ...] = ()  #: ENV / LABEL pairs
    heredocs: tuple[Heredoc, ...] = ()
    child: Instruction | None = None  #: the instruction an ONBUILD wraps
    comments: tuple[str, ...] = ()  #: comment lines right before it, `#` stripped
    empty_continuation_lines: int = 0  #: blank lines inside a continuation (BuildKit warns)
    column: int = 1  #: 1-based column of the keyword on start_line

    @property
    def is_known(self) -> bool:
        return self.keyword in KEYWORDS

    @property
    def sub_keyword(self) -> str | None:
        """For ONBUILD: the wrapped instruction's keyword."""
        return self.child.keyword if self.child is not None else None

    def flag_names(self) -> list[str]:
        """Flag names without dashes or values: `--from=b` gives `from`."""
        return [f[2:].split("=", 1)[0] for f in self.flags]

    def get_flag(self, name: str) -> str | None:
        """The value of the last `--name=value` flag, "" for a bare `--name`, else None."""
        found: str | None = None
        for f in self.flags:
            key, eq, value = f[2:].partition("=")
            if key.lower() == name:
                found = value if eq else ""
        return found


@dataclass(frozen=True)
class Directive:
    """A parser directive at the top of the file: `# syntax=`, `# escape=`, `# check=`."""

    name: str  #: lower-case
    value: str
    line: int


@dataclass(frozen=True)
class Comment:
    """A comment line (hadolint pragmas live here)."""

    text: str  #: after `#`, stripped
    line: int
    in_continuation: bool = False


@dataclass(frozen=True)
class ParseWarning:
    message: str
    line: int


@dataclass
class Dockerfile:
    """A parsed Dockerfile."""

    path: str
    instructions: list[Instruction]
    directives: list[Directive] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)
    escape: str = "\\"
    lines: list[str] = field(default_factory=list)  #: the source, one entry per line

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.instructions)

    def __len__(self) -> int:
        return len(self.instructions)

    def directive(self, name: str) -> str | None:
        for d in self.directives:
            if d.name == name:
                return d.value
        return None

    def source_line(self, line: int) -> str | None:
        """The text of a 1-based line, or None past the end."""
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return None
