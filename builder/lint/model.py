"""What every lint rule and the lint engine share: severities, findings, rules.

A rule is data plus one function: `Rule(code, severity, message, check)`.
`check(ctx)` yields `Violation`s (a line, and a message when it differs from
the rule's). The engine (`builder.lint.engine`) turns violations into
`Finding`s, applies the configuration (ignored rules, severity overrides,
pragmas) and hands them to a formatter.

Rule modules live in three packages, each listing its rules in `RULES`:
- `builder.lint.rules.hadolint`: hadolint's DL rules, one module per rule;
- `builder.lint.rules.buildkit`: BuildKit's build checks (`--buildkit-checks`
  or `# check=` directives);
- `builder.lint.rules.context`: rules that need the build context
  (`--context DIR`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.dockerfile.ast import Dockerfile, Instruction


class Severity(enum.IntEnum):
    """hadolint's severities; a higher value is more severe."""

    IGNORE = 0
    STYLE = 1
    INFO = 2
    WARNING = 3
    ERROR = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """`error`, `warning`, `info`, `style`, `ignore` (hadolint also accepts `none`)."""
        key = text.strip().lower()
        if key == "none":
            return cls.IGNORE
        try:
            return cls[key.upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r}: use error, warning, info, style or ignore"
            ) from None


@dataclass(frozen=True)
class Violation:
    """What a rule's check yields: where, and optionally a specific message."""

    line: int
    message: str | None = None
    column: int = 1


@dataclass(frozen=True)
class Finding:
    """One reported problem, ready for a formatter."""

    code: str
    severity: Severity
    message: str
    path: str
    line: int
    column: int = 1


@dataclass(frozen=True)
class RuleSettings:
    """Configuration some rules read (hadolint's config keys)."""

    trusted_registries: tuple[str, ...] = ()
    #: label name -> schema type: text, url, semver, hash, rfc3339, spdx, email
    label_schema: Mapping[str, str] = field(default_factory=dict)
    strict_labels: bool = False
    #: `--context DIR` for the rules that need the build context
    context_dir: Path | None = None
    #: a base image's ENV by name, when the local store has the image (see lint/images.py)
    image_env: Callable[[str], Mapping[str, str] | None] | None = None


@dataclass
class Stage:
    """A build stage as lint sees it: its FROM and the instructions after it."""

    index: int
    name: str | None  #: lower-case `AS` name, if any
    from_instruction: Instruction
    instructions: list[Instruction]  #: after FROM, in order


@dataclass
class LintContext:
    """Everything a rule may look at."""

    dockerfile: Dockerfile
    settings: RuleSettings
    stages: list[Stage]
    meta_args: list[Instruction]  #: ARG instructions before the first FROM

    @property
    def path(self) -> str:
        return self.dockerfile.path


CheckFunction = Callable[[LintContext], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """A lint rule. `code` is hadolint's (`DL3008`) or BuildKit's (`StageNameCasing`)."""

    code: str
    severity: Severity
    message: str
    check: CheckFunction
    #: the docs URL shown by formatters that carry one
    url: str = ""


def build_context(dockerfile: Dockerfile, settings: RuleSettings | None = None) -> LintContext:
    """Split a parsed Dockerfile into stages for the rules."""
    stages: list[Stage] = []
    meta: list[Instruction] = []
    for inst in dockerfile.instructions:
        if inst.keyword == "from":
            name = None
            if len(inst.args) >= 3 and inst.args[1].lower() == "as":
                name = inst.args[2].lower()
            stages.append(Stage(len(stages), name, inst, []))
        elif stages:
            stages[-1].instructions.append(inst)
        elif inst.keyword == "arg":
            meta.append(inst)
    return LintContext(dockerfile, settings or RuleSettings(), stages, meta)
