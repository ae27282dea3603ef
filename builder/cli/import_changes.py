"""`pybuild import --change INSTR`: Dockerfile instructions applied to an imported config.

As `docker import --change`: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
USER, VOLUME and WORKDIR, each parsed by the Dockerfile parser and applied
the way a build applies them (`builder.solve.metadata`). They add no
history entry, as with docker. Words are expanded (quotes removed,
`$VAR` replaced, except in ENV values) against the image's ENV at that point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.errors import PybuildError, UsageError

if TYPE_CHECKING:
    from builder.dockerfile.commands import Command
    from builder.image.model import ImageConfig

ALLOWED = ("cmd", "entrypoint", "env", "expose", "label", "onbuild", "user", "volume", "workdir")


class InvalidChangeError(UsageError):
    """A `--change` that is not one instruction docker accepts there."""


@dataclass(frozen=True)
class ConfigChange:
    """One parsed `--change`: its keyword and typed command."""

    kind: str
    text: str
    command: Command


def parse_changes(texts: list[str]) -> list[ConfigChange]:
    """Parse every `--change`; InvalidChangeError names the first bad one."""
    from builder.dockerfile.instructions import parse_command
    from builder.dockerfile.parser import parse

    changes = []
    for text in texts:
        try:
            dockerfile = parse(text.encode(), path="--change")
        except PybuildError as err:
            raise InvalidChangeError(f"--change {text!r}: {err.message}") from None
        if len(dockerfile.instructions) != 1:
            raise InvalidChangeError(f"--change {text!r}: give exactly one instruction")
        (node,) = dockerfile.instructions
        kind = node.keyword.lower()
        if kind not in ALLOWED:
            raise InvalidChangeError(
                f"{kind.upper()} is not a valid change command",
                hint="use " + ", ".join(k.upper() for k in ALLOWED),
            )
        try:
            command = parse_command(node, dockerfile.escape, path="--change")
        except PybuildError as err:
            raise InvalidChangeError(f"--change {text!r}: {err.message}") from None
        changes.append(ConfigChange(kind, text, command))
    return changes


def apply_changes(config: ImageConfig, changes: list[ConfigChange]) -> None:
    """Apply `changes` to `config` in order, in place."""
    from builder.dockerfile.commands import WorkdirCommand
    from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
    from builder.errors import BuildError
    from builder.plan.expander import ScopeExpander
    from builder.plan.model import Step
    from builder.solve.metadata import StageConfig, apply_config_step, resolve_workdir

    state = StageConfig(image=config)
    lexer = ShellLexer()
    for change in changes:
        env = dict(item.partition("=")[::2] for item in config.config.env)
        try:
            command = change.command.expand(ScopeExpander(lexer, env))
        except ExpansionError as err:
            raise InvalidChangeError(f"--change {change.text!r}: {err}") from None
        if isinstance(command, WorkdirCommand):
            config.config.working_dir = resolve_workdir(config.config.working_dir, command.path)
            continue
        step = Step(line=0, kind=change.kind, instruction=change.text, args=[], command=command)
        try:
            apply_config_step(state, step, f"--change {change.text!r}")
        except BuildError as err:
            raise InvalidChangeError(err.message) from None
