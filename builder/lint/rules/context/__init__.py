"""Rules that need the build context (`pybuild lint --context DIR`).

Each rule does nothing when `RuleSettings.context_dir` is not set. They look
at the context the way BuildKit would send it: `.dockerignore` (or the
Dockerfile's own `<Dockerfile>.dockerignore`) applied with moby's rules.

| code | severity | finds |
| --- | --- | --- |
| PB1001 | warning | COPY/ADD source missing from the context |
| PB1002 | warning | COPY/ADD source excluded by .dockerignore |
| PB1003 | error | `COPY --from` / `RUN --mount=from=` naming a later (or mistyped) stage |
| PB1004 | info | stage the final stage never uses |
| PB1005 | info | ARG declared but never used |
| PB1006 | info | `COPY .` before a dependency install (cache-hostile order) |
"""

from __future__ import annotations

from builder.lint.model import Rule
from builder.lint.rules.context import (
    cache_hostile_copy,
    ignored_source,
    missing_source,
    stage_order,
    unused_arg,
    unused_stage,
)

__all__ = ["RULES"]

RULES: list[Rule] = [
    missing_source.RULE,
    ignored_source.RULE,
    stage_order.RULE,
    unused_stage.RULE,
    unused_arg.RULE,
    cache_hostile_copy.RULE,
]
