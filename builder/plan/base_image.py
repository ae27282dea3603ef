"""What a stage takes from its base image's config when it is planned.

- Environment: BuildKit expands a stage's words with the image's `Env`, then
  the stage's own ARGs and ENVs on top (a valued ARG replaces an image
  variable of the same name from that point on; a bare `ARG NAME` with no
  value leaves it alone). An image without `PATH` gets the default one, as
  BuildKit does for every non-Windows image, `scratch` included.
- ONBUILD triggers: the image config's `OnBuild` texts run right after FROM,
  before the stage's own instructions. Each is parsed as a Dockerfile line
  of its own (with the default escape character, as BuildKit parses it) and
  turned into a typed command like any other instruction. Docker forbids
  `ONBUILD`, `FROM` and `MAINTAINER` as triggers; so does this module.
  Only the direct base's triggers run: an image built FROM an image with
  triggers ran them and kept only its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from builder.dockerfile.commands import Command
from builder.dockerfile.instructions import parse_command
from builder.dockerfile.parser import parse
from builder.errors import Location, ParseError, PlanError
from builder.plan.args import Scope

#: BuildKit's PATH for a Linux image that sets none (`system.DefaultPathEnv`).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Trigger keywords Docker refuses, with its messages.
_FORBIDDEN_TRIGGERS = {
    "onbuild": "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    "from": "FROM isn't allowed as an ONBUILD trigger",
    "maintainer": "MAINTAINER isn't allowed as an ONBUILD trigger",
}
_TRIGGER_HINT = (
    "ONBUILD triggers of a base image run first in every build FROM it; "
    "rebuild the base image without this trigger, or use another base"
)


def trigger_label(text: str, limit: int = 120) -> str:
    """A trigger's text for a message: quoted, and cut short when an image holds a huge one."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def image_env(env: Iterable[str], os: str = "linux") -> list[tuple[str, str]]:
    """The variables a stage FROM an image starts with, in order.

    `env` is the image config's `Env` ("NAME=value"; a bare "NAME" has the
    empty value). PATH is appended when missing, except on Windows.
    """
    pairs: dict[str, str] = {}
    for item in env:
        name, _, value = item.partition("=")
        if name:  # "=x" names nothing a word could expand
            pairs[name] = value
    if "PATH" not in pairs and os != "windows":
        pairs["PATH"] = DEFAULT_PATH
    return list(pairs.items())


def image_scope(env: Iterable[str], os: str = "linux") -> Scope:
    """A stage's starting ARG/ENV scope: the image's environment, source "env"."""
    scope = Scope()
    for name, value in image_env(env, os):
        scope.set(name, value, "env")
    return scope


def parse_trigger(
    text: str,
    *,
    line: int = 1,
    column: int = 1,
    location: Location | None = None,
    image: str | None = None,
) -> Command:
    """One ONBUILD trigger as a typed command that says it sits at `line`/`column`.

    Raises PlanError (at `location`, naming `image` when given) for a trigger
    that does not parse, is not exactly one instruction, or is forbidden.
    """

    def invalid(reason: str) -> PlanError:
        where = f" of base image {image}" if image else ""
        return PlanError(
            f"invalid ONBUILD trigger {trigger_label(text)}{where}: {reason}",
            location,
            _TRIGGER_HINT,
        )

    try:
        parsed = parse(text, path="ONBUILD trigger")
    except ParseError as exc:
        raise invalid(exc.message) from None
    if len(parsed.instructions) != 1:
        raise invalid("onbuild trigger should be a single expression")
    node = parsed.instructions[0]
    forbidden = _FORBIDDEN_TRIGGERS.get(node.keyword)
    if forbidden is not None:
        raise invalid(forbidden)
    node = replace(node, start_line=line, end_line=line, column=column)
    try:
        return parse_command(node, parsed.escape, path="ONBUILD trigger")
    except ParseError as exc:
        raise invalid(exc.message) from None


def onbuild_commands(triggers: Sequence[str], *, image: str, at: Location) -> list[Command]:
    """The triggers of one base image, placed on its FROM line `at`; PlanError for a bad one."""
    return [
        parse_trigger(text, line=at.line, column=max(at.column, 1), location=at, image=image)
        for text in triggers
    ]


__all__ = [
    "DEFAULT_PATH",
    "image_env",
    "image_scope",
    "onbuild_commands",
    "parse_trigger",
    "trigger_label",
]
