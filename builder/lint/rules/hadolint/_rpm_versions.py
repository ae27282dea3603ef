"""Version pinning of yum and dnf packages (DL3033, DL3041).

A package counts as pinned when it is `name-version[-release]`: after the
first dash, every part is made of letters, digits and `.~^_:+`, and one of
them starts with a digit (`httpd-2.4.57`, `kernel-5.14.0-362.el9`). Local
`.rpm` files count as pinned. A package written with a variable counts as
pinned when the variable is an ARG, or an ENV of the current stage (or of
the stage it builds on). Modules (`yum module install nodejs:18`) must
name a stream with `:`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Violation
from builder.lint.rules.hadolint import _common as c

_VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.~^_:+")


@dataclass
class _Variables:
    """ENV names per stage index, and every ARG name."""

    stage: int = 0
    aliases: dict[int, str] = field(default_factory=dict)
    envs: dict[int, set[str]] = field(default_factory=lambda: {0: set()})
    args: set[str] = field(default_factory=set)

    def new_stage(self, image: c.BaseImage) -> None:
        nxt = self.stage + 1
        parent = next((i for i, name in self.aliases.items() if name == image.name), nxt)
        inherited = set(self.envs.get(parent, set()))
        self.stage = nxt
        self.aliases[nxt] = image.alias or ""
        self.envs[nxt] = inherited

    def defines(self, package: str) -> bool:
        names = self.envs.get(self.stage, set()) | self.args
        return any("${" + name + "}" in package for name in names)


def is_pinned(package: str, variables: _Variables) -> bool:
    parts = package.split("-")
    if len(parts) <= 1:
        return False
    if package.endswith(".rpm"):
        return True
    if "$" in package:
        return variables.defines(package)
    rest = parts[1:]
    return all(set(p) <= _VERSION_CHARS for p in rest) and any(p[:1].isdigit() for p in rest)


def _installed(cmd: shell.Command, tools: Sequence[str]) -> list[str]:
    if cmd.name not in tools or "install" not in cmd.args:
        return []
    return [a for a in shell.args_without_flags(cmd) if a not in ("install", "module")]


def check_versions(
    ctx: LintContext,
    tools: Sequence[str],
    is_module_command: Callable[[shell.Command], bool],
) -> Iterator[Violation]:
    for sequence in c.with_onbuild(ctx):
        yield from _check(sequence, tools, is_module_command)


def _check(
    sequence: Sequence[Instruction],
    tools: Sequence[str],
    is_module_command: Callable[[shell.Command], bool],
) -> Iterator[Violation]:
    variables = _Variables()
    for inst in sequence:
        if inst.keyword == "from":
            variables.new_stage(c.base_image(inst))
        elif inst.keyword == "env":
            variables.envs.setdefault(variables.stage, set()).update(k for k, _ in c.pairs(inst))
        elif inst.keyword == "arg":
            variables.args.add(c.arg_name(inst))
        elif inst.keyword == "run":
            commands = c.run_commands(inst)
            packages = [
                p for cmd in commands if not is_module_command(cmd) for p in _installed(cmd, tools)
            ]
            modules = [
                m
                for cmd in commands
                if cmd.name in tools and "module" in cmd.args
                for m in _installed(cmd, tools)
            ]
            if not (
                all(is_pinned(p, variables) for p in packages) and all(":" in m for m in modules)
            ):
                yield Violation(inst.start_line)
