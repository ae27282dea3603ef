"""ARG and ENV scoping, BuildKit's way.

- Meta ARGs (before the first FROM) and the predefined platform ARGs form
  the *global* scope. It is only used to expand FROM lines, and as the value
  a stage gets when it re-declares a global name with a bare `ARG NAME`.
- Inside a stage, `ARG NAME[=default]` takes, in order: the `--build-arg`
  value, else the default (expanded with what the stage sees so far), else
  the global value, else no value at all (declared, but unset).
- ENV and valued ARGs share one ordered scope; the later instruction wins
  (BuildKit: `ARG X=1` after `ENV X=0` gives 1, and the reverse gives 0).
- A stage based on another stage (`FROM builder`) starts with that stage's
  scope: BuildKit hands down both ENV and ARG values.
- The proxy ARGs (`HTTP_PROXY`...) need no declaration: given as build args
  they reach RUN steps, and are never reported as unused.
- `SOURCE_DATE_EPOCH` is a built-in build arg (BuildKit's): never reported
  as unused; a stage sees it, as any build arg, after `ARG SOURCE_DATE_EPOCH`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from builder.dockerfile.shell_lexer import ShellLexer

PLATFORM_ARGS: tuple[str, ...] = (
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
    "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
)  # fmt: skip
PROXY_ARGS: tuple[str, ...] = tuple(
    name
    for upper in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (upper, upper.lower())
)
#: BuildKit's built-in build arg for reproducible builds (`builder.plan.epoch`).
SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
#: Build args that are never reported as "not consumed".
PREDEFINED_ARGS: frozenset[str] = frozenset((*PLATFORM_ARGS, *PROXY_ARGS, SOURCE_DATE_EPOCH))


@dataclass(frozen=True)
class Variable:
    """A name visible to a step, and where its value comes from."""

    name: str
    value: str
    source: str  #: "arg", "env" or "proxy"


@dataclass
class Scope:
    """The ARG/ENV values a stage sees at one point, in definition order."""

    variables: dict[str, Variable] = field(default_factory=dict)
    #: ARG names, valued or not, in declaration order (a dict: constant-time lookups)
    declared: dict[str, None] = field(default_factory=dict)

    def copy(self) -> Scope:
        return Scope(dict(self.variables), dict(self.declared))

    def env(self) -> Mapping[str, str]:
        """What `$NAME` expands to: a live view (no copy, so a step costs nothing per
        variable in scope); read it before changing the scope."""
        return _Values(self.variables)

    def set(self, name: str, value: str, source: str) -> None:
        self.variables[name] = Variable(name, value, source)


class _Values(Mapping[str, str]):
    """The values of a scope's variables, read through."""

    __slots__ = ("_variables",)

    def __init__(self, variables: Mapping[str, Variable]) -> None:
        self._variables = variables

    def __getitem__(self, name: str) -> str:
        return self._variables[name].value

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


def build_args_from_options(options: Iterable[str]) -> dict[str, str | None]:
    """`--build-arg` values as given: `K=V` -> V, a bare `K` -> None (from the environment)."""
    result: dict[str, str | None] = {}
    for option in options:
        key, eq, value = option.partition("=")
        result[key] = value if eq else None
    return result


def resolve_build_args(
    build_args: Mapping[str, str | None] | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """Fill `None` values from `environ`, like docker; a name missing there is dropped."""
    resolved: dict[str, str] = {}
    for key, value in (build_args or {}).items():
        if value is not None:
            resolved[key] = value
        elif key in environ:
            resolved[key] = environ[key]
    return resolved


def initial_globals(predefined: Mapping[str, str], build_args: Mapping[str, str]) -> dict[str, str]:
    """The global scope before any meta ARG: predefined ARGs, a build arg may override them."""
    return {k: build_args.get(k, v) for k, v in predefined.items()}


def declare_global_arg(
    globals_: dict[str, str],
    name: str,
    default: str | None,
    *,
    build_args: Mapping[str, str],
    lexer: ShellLexer,
) -> None:
    """Apply one meta ARG (before the first FROM) to the global scope.

    Raises ExpansionError when the default cannot be expanded.
    """
    if name in build_args:
        globals_[name] = build_args[name]
    elif default is not None:
        globals_[name] = lexer.expand_word(default, globals_)


def declare_arg(
    scope: Scope,
    name: str,
    default: str | None,
    *,
    build_args: Mapping[str, str],
    globals_: Mapping[str, str],
    lexer: ShellLexer,
) -> str | None:
    """Apply `ARG name[=default]` inside a stage; return the value it gets (None: unset)."""
    value: str | None
    if name in build_args:
        value = build_args[name]
    elif default is not None:
        value = lexer.expand_word(default, scope.env())
    else:
        value = globals_.get(name)
    scope.declared.setdefault(name)
    if value is not None:
        scope.set(name, value, "arg")
    return value


def apply_env(
    scope: Scope, pairs: Iterable[tuple[str, str]], lexer: ShellLexer
) -> list[tuple[str, str]]:
    """Apply `ENV k=v ...`: every pair is expanded with the scope from *before* the
    instruction (`ENV a=1 b=$a` gives b the old a, as Docker documents)."""
    before = scope.env()
    expanded = [(lexer.expand_word(k, before), lexer.expand_word(v, before)) for k, v in pairs]
    for key, value in expanded:
        scope.set(key, value, "env")
    return expanded


def run_variables(scope: Scope, build_args: Mapping[str, str]) -> list[Variable]:
    """What a RUN step sees: the scope, plus proxy build args nobody declared."""
    seen = list(scope.variables.values())
    extra = [
        Variable(name, build_args[name], "proxy")
        for name in PROXY_ARGS
        if name in build_args and name not in scope.variables
    ]
    return seen + extra


def unused_build_args(build_args: Mapping[str, str], consumed: Iterable[str]) -> list[str]:
    """Build args no ARG declared (docker's "were not consumed"), sorted."""
    used = set(consumed) | PREDEFINED_ARGS
    return sorted(k for k in build_args if k not in used)


def unused_build_args_warning(names: list[str]) -> str:
    return f"One or more build-args [{' '.join(names)}] were not consumed"
