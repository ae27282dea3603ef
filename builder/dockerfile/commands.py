"""Typed instructions, and how each expands its words at its point of a stage.

A `Command` is what `builder.dockerfile.instructions` makes of one
instruction: flags parsed, arguments checked, nothing expanded. The plan
calls `command.expand(expander)` once per step with the ARG/ENV state of that
point (BuildKit's `Expand(expander)`), and hands the expanded command on:
nothing downstream parses or expands instruction text again.

What expands is what BuildKit expands: paths, users, ports, labels, flag
values, `--mount` values, and the bodies of COPY/ADD heredocs whose
delimiter is unquoted (variables only; quotes are kept as written). RUN,
CMD, ENTRYPOINT, SHELL and HEALTHCHECK keep their text: the shell in the
container expands it. ARG and ENV are expanded by the plan, which also
updates the scope with them (`builder.plan.args`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol, Self

from builder.dockerfile.ast import Heredoc, Instruction
from builder.dockerfile.mounts import Mount, expand_mount
from builder.dockerfile.ports import port_range


class Expander(Protocol):
    """Variable expansion against one step's ARG/ENV values (BuildKit's shell lexer)."""

    def word(self, text: str) -> str:
        """One word, quotes and escapes processed (BuildKit's ProcessWord)."""

    def words(self, text: str) -> list[str]:
        """Expanded, then split into words (BuildKit's ProcessWords)."""

    def raw(self, text: str) -> str:
        """A heredoc body: variables expanded, quotes kept (BuildKit's SkipProcessQuotes)."""


def chomped(heredoc: Heredoc) -> str:
    """A heredoc's body with leading tabs removed for `<<-` (as the shell does)."""
    if not heredoc.chomp:
        return heredoc.content
    return "".join(line.lstrip("\t") for line in heredoc.content.splitlines(keepends=True))


def expand_inline(heredocs: tuple[Heredoc, ...], expander: Expander) -> tuple[Heredoc, ...]:
    """COPY/ADD heredoc bodies as files get them: chomped, and expanded unless quoted."""
    out = []
    for heredoc in heredocs:
        body = chomped(heredoc)
        body = expander.raw(body) if heredoc.expand else body
        out.append(dataclasses.replace(heredoc, content=body, chomp=False))
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every typed instruction; `node` is the source instruction."""

    node: Instruction

    @property
    def keyword(self) -> str:
        """Upper-case instruction name: `RUN`."""
        return self.node.keyword.upper()

    @property
    def line(self) -> int:
        return self.node.start_line

    def expand(self, expander: Expander) -> Self:
        """This command with its words expanded; commands with nothing to expand
        (CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER, FROM) return themselves."""
        del expander
        return self


@dataclass(frozen=True, kw_only=True)
class FromCommand(Command):
    base_name: str  #: unexpanded: `golang:${GO_VERSION}`
    stage_name: str | None  #: lower-cased `AS` name
    platform: str | None  #: unexpanded `--platform` value


@dataclass(frozen=True, kw_only=True)
class RunCommand(Command):
    cmd_line: list[str]  #: one shell string, or the exec-form argv
    prepend_shell: bool  #: shell form: run through SHELL
    heredocs: tuple[Heredoc, ...] = ()
    mounts: list[Mount] = field(default_factory=list)
    network: str = "default"  #: default, none, host
    security: str = "sandbox"  #: sandbox, insecure

    def expand(self, expander: Expander) -> Self:
        """`--mount` values expand (and are checked again); the command is the shell's."""
        mounts = [expand_mount(m, expander.word) for m in self.mounts]
        return dataclasses.replace(self, mounts=mounts)


@dataclass(frozen=True, kw_only=True)
class FileCommand(Command):
    """What COPY and ADD share (BuildKit's SourcesAndDest, plus the common flags)."""

    sources: list[str]  #: paths, heredoc sources excluded (see `heredocs`)
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: list[str] = field(default_factory=list)
    heredocs: tuple[Heredoc, ...] = ()  #: inline sources (`COPY <<EOF /dst`)

    def expand(self, expander: Expander) -> Self:
        word = expander.word
        return dataclasses.replace(
            self,
            sources=[word(s) for s in self.sources],
            dest=word(self.dest),
            chown=None if self.chown is None else word(self.chown),
            chmod=None if self.chmod is None else word(self.chmod),
            excludes=[word(e) for e in self.excludes],
            heredocs=expand_inline(self.heredocs, expander),
        )


@dataclass(frozen=True, kw_only=True)
class CopyCommand(FileCommand):
    from_: str | None = None  #: a stage or an image; never expanded, as in BuildKit
    parents: bool = False


@dataclass(frozen=True, kw_only=True)
class AddCommand(FileCommand):
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None  #: None: not given (ADD decides by source)

    def expand(self, expander: Expander) -> Self:
        expanded = super().expand(expander)
        if self.checksum is None:
            return expanded
        return dataclasses.replace(expanded, checksum=expander.word(self.checksum))


@dataclass(frozen=True, kw_only=True)
class EnvCommand(Command):
    pairs: list[tuple[str, str]]  #: values unexpanded, quotes kept


@dataclass(frozen=True, kw_only=True)
class ArgCommand(Command):
    args: list[tuple[str, str | None]]  #: (name, default or None), defaults unexpanded


@dataclass(frozen=True, kw_only=True)
class LabelCommand(Command):
    pairs: list[tuple[str, str]]

    def expand(self, expander: Expander) -> Self:
        pairs = [(expander.word(k), expander.word(v)) for k, v in self.pairs]
        return dataclasses.replace(self, pairs=pairs)


@dataclass(frozen=True, kw_only=True)
class MaintainerCommand(Command):
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class ExposeCommand(Command):
    ports: list[str]

    def expand(self, expander: Expander) -> Self:
        """Expanded, each specification checked (InvalidCommand for an invalid one)."""
        ports = [p for port in self.ports for p in expander.words(port)]
        for spec in ports:
            port_range(spec)
        return dataclasses.replace(self, ports=ports)


@dataclass(frozen=True, kw_only=True)
class VolumeCommand(Command):
    volumes: list[str]

    def expand(self, expander: Expander) -> Self:
        return dataclasses.replace(self, volumes=[expander.word(v) for v in self.volumes])


@dataclass(frozen=True, kw_only=True)
class UserCommand(Command):
    user: str

    def expand(self, expander: Expander) -> Self:
        return dataclasses.replace(self, user=expander.word(self.user))


@dataclass(frozen=True, kw_only=True)
class WorkdirCommand(Command):
    path: str

    def expand(self, expander: Expander) -> Self:
        return dataclasses.replace(self, path=expander.word(self.path))


@dataclass(frozen=True, kw_only=True)
class CmdCommand(Command):
    cmd_line: list[str]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class EntrypointCommand(Command):
    cmd_line: list[str]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class ShellCommand(Command):
    shell: list[str]


@dataclass(frozen=True, kw_only=True)
class StopSignalCommand(Command):
    signal: str

    def expand(self, expander: Expander) -> Self:
        return dataclasses.replace(self, signal=expander.word(self.signal))


@dataclass(frozen=True, kw_only=True)
class HealthcheckCommand(Command):
    """Durations are Go-style nanoseconds; 0 means "not set" (inherit), as in Docker."""

    test: list[str] | None  #: None for `HEALTHCHECK NONE`; else ["CMD", ...] / ["CMD-SHELL", s]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class OnbuildCommand(Command):
    expression: str  #: the trigger as written, without `ONBUILD`

    @property
    def trigger(self) -> str:
        """Upper-case keyword of the wrapped instruction."""
        return self.expression.split(None, 1)[0].upper() if self.expression.strip() else ""


@dataclass
class Stage:
    """A build stage: a FROM and the commands up to the next FROM."""

    name: str | None  #: lower-cased, None when unnamed
    index: int
    base_name: str  #: unexpanded
    platform: str | None
    commands: list[Command]
    node: Instruction  #: the FROM instruction
    from_command: FromCommand


def copy_words(cmd: CopyCommand | AddCommand) -> list[str]:
    """Sources, heredoc markers, destination: the words of a COPY/ADD after its flags."""
    return [*cmd.sources, *(f"<<{h.name}" for h in cmd.heredocs), cmd.dest]
