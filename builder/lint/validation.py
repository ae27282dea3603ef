"""What the build refuses in a Dockerfile that parses: invalid instructions and plans.

hadolint's parser rejects invalid flags, missing arguments, ports that are
not numbers and the like, and reports them as DL1000. pybuild's parser is
BuildKit's, which accepts them and leaves the checks to its command layer
and the planner; the linter runs both here, so `pybuild lint` fails where
`pybuild build` would.

Not reported here, because a rule reports them (as in hadolint) or a build
may pass:
- errors that depend on the values of ARGs (an ARG without a default used as
  a base image name, `${VAR:?}`...): a build with `--build-arg` may pass
  (`ArgValueError`);
- an instruction before the first FROM (DL3061); an `ONBUILD` of FROM,
  MAINTAINER or ONBUILD (DL3043); an EXPOSE port out of range (DL3011);
- how stages fit together: duplicate names, cycles, order (DL3022, DL3023,
  DL3024; `StageGraphError`).
"""

from __future__ import annotations

import re
from typing import Final

from builder.dockerfile.ast import Dockerfile, Instruction
from builder.dockerfile.instructions import parse_command
from builder.errors import ArgValueError, ParseError, PlanError, PybuildError, StageGraphError

#: ONBUILD triggers the build refuses and DL3043 reports.
_DL3043_TRIGGERS: Final = frozenset({"onbuild", "from", "maintainer"})
#: An EXPOSE word DL3011 checks: a number or range, maybe with a protocol.
_NUMERIC_PORT: Final = re.compile(r"[0-9]+(?:-[0-9]+)?(?:/(?:tcp|udp|sctp))?", re.IGNORECASE)


def build_refusal(dockerfile: Dockerfile) -> PybuildError | None:
    """The first error `pybuild build` would stop with before running anything, and
    that no lint rule reports (None: none)."""
    plannable = True
    seen_from = False
    for node in dockerfile.instructions:
        try:
            parse_command(
                node,
                dockerfile.escape,
                path=dockerfile.path,
                source_line=dockerfile.source_line(node.start_line),
            )
        except ParseError as exc:
            if not _reported_by_rule(node):
                return exc
            plannable = False
        if node.keyword == "from":
            seen_from = True
        elif not seen_from and node.keyword != "arg":
            plannable = False  # DL3061
    if not plannable or not seen_from:
        return None  # only ARGs: nothing hadolint reports either
    from builder.plan.graph import plan

    try:
        plan(dockerfile, build_args={}, environ={})
    except (ArgValueError, StageGraphError):
        return None
    except (ParseError, PlanError) as exc:
        return None if _out_of_range_port(dockerfile, exc) else exc
    return None


def _reported_by_rule(node: Instruction) -> bool:
    return (
        node.keyword == "onbuild"
        and node.child is not None
        and (node.child.keyword in _DL3043_TRIGGERS)
    )


def _out_of_range_port(dockerfile: Dockerfile, exc: PybuildError) -> bool:
    """An EXPOSE of numbers only fails for a port out of range: DL3011's finding."""
    line = exc.location.line if exc.location is not None else 0
    return any(
        node.keyword == "expose"
        and node.start_line == line
        and all(_NUMERIC_PORT.fullmatch(word) for word in node.args)
        for node in dockerfile.instructions
    )
