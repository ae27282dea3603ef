"""`docker build` flags that BuildKit accepts and ignores, as buildx does.

buildx keeps them, hidden, so that old scripts still run: `--rm`, `--force-rm`,
`--compress`, `-m/--memory`, `--memory-swap`, `-c/--cpu-shares`,
`--cpu-period`, `--cpu-quota`, `--cpuset-cpus`, `--cpuset-mems` are silent;
`--isolation`, `--security-opt` and `--squash` print buildx's warning.
`--disable-content-trust` (the docker CLI's) and `--stream` (the legacy
builder's) are accepted silently too.

Their boolean flags take Go's `--rm=false` form, which click does not:
`normalize_bool_values` rewrites it before the command line is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence

from builder.errors import UsageError

#: boolean flags of `docker build` that pybuild ignores
BOOL_FLAGS = ("--rm", "--force-rm", "--compress", "--disable-content-trust", "--squash", "--stream")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")

#: buildx's warnings for the ignored flags it warns about
WARNINGS = {
    "isolation": "isolation flag is deprecated with BuildKit.",
    "security-opt": 'security-opt flag is deprecated. "RUN --security=insecure" should be used '
    "with BuildKit.",
    "squash": "experimental flag squash is removed with BuildKit. You should squash inside build "
    "using a multi-stage Dockerfile for efficiency.",
}


def normalize_bool_values(argv: Sequence[str]) -> list[str]:
    """`build ... --rm=false` as `build ...` and `--squash=true` as `--squash` (Go's bool syntax).

    Only the `build` command's arguments are rewritten, up to a `--`. A value
    Go's strconv.ParseBool refuses is a UsageError with pflag's message.
    """
    args = list(argv)
    command = next((i for i, arg in enumerate(args) if not arg.startswith("-")), None)
    if command is None or args[command] != "build":
        return args
    start = command + 1
    out = args[:start]
    for position, arg in enumerate(args[start:], start):
        if arg == "--":
            return out + args[position:]
        name, eq, value = arg.partition("=")
        if not eq or name not in BOOL_FLAGS:
            out.append(arg)
            continue
        if value in _TRUE:
            out.append(name)
        elif value not in _FALSE:
            raise UsageError(
                f'invalid argument "{value}" for "{name}" flag: '
                f'strconv.ParseBool: parsing "{value}": invalid syntax',
                hint=f"write {name}, {name}=true or {name}=false",
            )
    return out


def ignored_flag_warnings(
    *, isolation: str | None, security_opt: list[str], squash: bool
) -> list[str]:
    """The warnings buildx prints for the ignored flags that were given."""
    given = {
        "isolation": isolation is not None,
        "security-opt": bool(security_opt),
        "squash": squash,
    }
    return [WARNINGS[name] for name, on in given.items() if on]
