"""`SOURCE_DATE_EPOCH`: the one time a reproducible build writes.

BuildKit reads it as a build arg (`--build-arg SOURCE_DATE_EPOCH=N`, or a
meta `ARG SOURCE_DATE_EPOCH=N` default before the first FROM); buildx and
`pybuild build` pass the client's `$SOURCE_DATE_EPOCH` as that build arg
when no `--build-arg` gives it. The value is whole seconds since the Unix
epoch; an empty value means unset.
"""

from __future__ import annotations

from collections.abc import Mapping

from builder.errors import UsageError
from builder.plan.args import SOURCE_DATE_EPOCH

__all__ = ["SOURCE_DATE_EPOCH", "parse_epoch", "plan_epoch"]

_MAX_EPOCH = 253402300799  #: 9999-12-31T23:59:59Z, the last time RFC 3339 can write


def parse_epoch(value: str | None, *, where: str = SOURCE_DATE_EPOCH) -> int | None:
    """`value` as seconds; None when unset or empty; UsageError when not a time."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or int(text) > _MAX_EPOCH:
        raise UsageError(
            f"invalid {where}: {value!r}",
            hint="give whole seconds since 1970-01-01 UTC, e.g. $(git log -1 --pretty=%ct)",
        )
    return int(text)


def plan_epoch(build_args: Mapping[str, str], global_args: Mapping[str, str]) -> int | None:
    """The build's epoch: the build arg, else a meta ARG's default (BuildKit's order)."""
    value = build_args.get(SOURCE_DATE_EPOCH)
    if value is None:
        value = global_args.get(SOURCE_DATE_EPOCH)
    return parse_epoch(value, where=f"build arg {SOURCE_DATE_EPOCH}")
