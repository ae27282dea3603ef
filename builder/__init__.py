"""pybuild: a daemonless Dockerfile builder and hadolint-compatible linter.

The library API is small and stable; the CLI (`builder.cli`) is a thin shell
over it:

- `builder.parse_dockerfile(text, path=...)` -> `builder.dockerfile.ast.Dockerfile`
- `builder.plan_build(dockerfile, target=..., build_args=...)` -> `builder.plan.graph.BuildPlan`

Heavy modules are imported lazily so `pybuild --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from builder.dockerfile.ast import Dockerfile
    from builder.plan.graph import BuildPlan


def parse_dockerfile(text: str | bytes, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile source into its AST (raises `ParseError`)."""
    from builder.dockerfile.parser import parse

    return parse(text, path=path)


def plan_build(dockerfile: Dockerfile, **options: Any) -> BuildPlan:
    """Plan a build: stages, steps with expanded arguments, pruning, parallelism."""
    from builder.plan.graph import plan

    return plan(dockerfile, **options)


__all__ = ["__version__", "parse_dockerfile", "plan_build"]
