"""pybuild: a daemonless Dockerfile builder and hadolint-compatible linter.

The library API is small and stable; the CLI (`builder.cli`) is a thin shell
over it:

- `builder.parse_dockerfile(text, path=...)` -> `builder.dockerfile.ast.Dockerfile`
- `builder.plan_build(dockerfile, target=..., build_args=...)` -> `builder.plan.graph.BuildPlan`
- `builder.build(builder.BuildRequest(context=...))` -> `builder.BuildResult` (see `builder.api`
  and docs/api.md)
- `builder.lint_dockerfile(paths_or_text, config=None)` -> `builder.lint.LintResult`

(`builder.lint` is the linter package, so the linter's entry point is
`lint_dockerfile`: a function named `lint` here would be replaced by the
package as soon as any `builder.lint` module is imported.)

Heavy modules are imported lazily so `pybuild --help` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: `typing.TYPE_CHECKING` without importing typing: `import builder` is on the path of
#: every command, and of the cached-build fast path (mypy reads any `TYPE_CHECKING` so)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from builder.api import BuildRequest, BuildResult, build, lint_dockerfile
    from builder.dockerfile.ast import Dockerfile
    from builder.plan.graph import BuildPlan

#: names `builder` exports from `builder.api`, imported on first use
_API = ("BuildRequest", "BuildResult", "build", "lint_dockerfile")


def parse_dockerfile(text: str | bytes, path: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile source into its AST (raises `ParseError`)."""
    from builder.dockerfile.parser import parse

    return parse(text, path=path)


def plan_build(dockerfile: Dockerfile, **options: Any) -> BuildPlan:
    """Plan a build: stages, steps with expanded arguments, pruning, parallelism."""
    from builder.plan.graph import plan

    return plan(dockerfile, **options)


def __getattr__(name: str) -> Any:
    """`builder.build` and friends, imported from `builder.api` when first used."""
    if name in _API:
        from builder import api

        return getattr(api, name)
    raise AttributeError(f"module 'builder' has no attribute {name!r}")


__all__ = [
    "BuildRequest",
    "BuildResult",
    "__version__",
    "build",
    "lint_dockerfile",
    "parse_dockerfile",
    "plan_build",
]
