"""Typed, validated instructions built from the raw AST.

`parse_command` turns one `Instruction` into a `Command` dataclass with its
flags parsed and its arguments checked, the way BuildKit's
`frontend/dockerfile/instructions` package does; `parse_stages` splits a
whole `Dockerfile` into meta ARGs and build stages. Nothing is expanded
here: words keep their `$VARS` (each command expands itself later, at its
point of the stage: `Command.expand`), except that `RUN --mount=from=` may
not contain variables at all, as in BuildKit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from builder.dockerfile.ast import KEYWORDS, Dockerfile, Heredoc, Instruction
from builder.dockerfile.commands import (
    AddCommand,
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    Stage,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from builder.dockerfile.flags import (
    BOOL,
    STRING,
    STRINGS,
    InvalidCommand,
    bool_flag,
    heredoc_name,
    list_flag,
    no_flags,
    not_json,
    parse_duration,
    parse_flags,
    str_flag,
    suggest,
)
from builder.dockerfile.mounts import NETWORK_MODES, SECURITY_MODES, parse_mount
from builder.errors import Location, ParseError

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*$")


def _parse_from(node: Instruction) -> FromCommand:
    args = node.args
    stage_name: str | None = None
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.match(stage_name):
            raise InvalidCommand(
                f'invalid name for build stage: "{args[2]}", '
                "name can't start with a number or contain symbols"
            )
    elif len(args) != 1:
        hint = None
        if len(args) == 2 and args[1].lower() == "as":
            hint = "name the stage: FROM image AS name"
        elif len(args) == 3:
            hint = f"use `AS` to name a stage: FROM {args[0]} AS {args[2]}"
        raise InvalidCommand("FROM requires either one or three arguments", hint)
    flags = parse_flags(node, {"platform": STRING})
    return FromCommand(
        node=node, base_name=args[0], stage_name=stage_name, platform=str_flag(flags, "platform")
    )


def _cmd_line(node: Instruction) -> list[str]:
    """BuildKit's handleJSONArgs: exec form as is, shell form as one string."""
    if node.json:
        return list(node.args)
    return [" ".join(node.args)] if node.args else []


def _parse_run(node: Instruction) -> RunCommand:
    flags = parse_flags(node, {"mount": STRINGS, "network": STRING, "security": STRING})
    network = str_flag(flags, "network") or "default"
    if network not in NETWORK_MODES:
        raise InvalidCommand(f'invalid network mode "{network}"', suggest(network, NETWORK_MODES))
    security = str_flag(flags, "security") or "sandbox"
    if security not in SECURITY_MODES:
        raise InvalidCommand(
            f'security "{security}" is not valid', suggest(security, SECURITY_MODES)
        )
    mounts = [parse_mount(v) for v in list_flag(flags, "mount")]
    return RunCommand(
        node=node,
        cmd_line=_cmd_line(node),
        prepend_shell=not node.json,
        heredocs=node.heredocs,
        mounts=mounts,
        network=network,
        security=security,
    )


def _sources_and_dest(
    node: Instruction, keyword: str
) -> tuple[list[str], str, tuple[Heredoc, ...]]:
    if len(node.args) < 2:
        raise InvalidCommand(
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined."
        )
    *srcs, dest = node.args
    if heredoc_name(dest) is not None:
        raise InvalidCommand(f"{keyword} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    sources: list[str] = []
    inline: list[Heredoc] = []
    for src in srcs:
        name = heredoc_name(src) if node.heredocs else None
        if name is not None and name in by_name:
            inline.append(by_name[name])
        else:
            sources.append(src)
    return sources, dest, tuple(inline)


#: The flags of COPY and ADD, in BuildKit's order (suggestions for typos follow it).
_COPY_FLAGS = {"from": STRING, "chown": STRING, "chmod": STRING, "link": BOOL, "parents": BOOL,
               "exclude": STRINGS}  # fmt: skip
_ADD_FLAGS = {"chown": STRING, "chmod": STRING, "link": BOOL, "exclude": STRINGS,
              "checksum": STRING, "keep-git-dir": BOOL, "unpack": BOOL}  # fmt: skip


def _file_fields(
    node: Instruction, keyword: str, spec: dict[str, str]
) -> tuple[dict[str, str | list[str]], dict[str, Any]]:
    """The flags of a COPY/ADD, and the `FileCommand` fields they and the words give."""
    flags = parse_flags(node, spec)
    sources, dest, inline = _sources_and_dest(node, keyword)
    fields = {
        "node": node,
        "sources": sources,
        "dest": dest,
        "chown": str_flag(flags, "chown") or None,
        "chmod": str_flag(flags, "chmod") or None,
        "link": bool_flag(flags, "link"),
        "excludes": list_flag(flags, "exclude"),
        "heredocs": inline,
    }
    return flags, fields


def _parse_copy(node: Instruction) -> CopyCommand:
    flags, fields = _file_fields(node, "COPY", _COPY_FLAGS)
    return CopyCommand(
        **fields, from_=str_flag(flags, "from") or None, parents=bool_flag(flags, "parents")
    )


def _parse_add(node: Instruction) -> AddCommand:
    flags, fields = _file_fields(node, "ADD", _ADD_FLAGS)
    return AddCommand(
        **fields,
        checksum=str_flag(flags, "checksum") or None,
        keep_git_dir=bool_flag(flags, "keep-git-dir"),
        unpack=bool_flag(flags, "unpack") if "unpack" in flags else None,
    )


def _key_values(node: Instruction, keyword: str) -> list[tuple[str, str]]:
    no_flags(node)
    if node.key_values:
        pairs = [(kv.key, kv.value) for kv in node.key_values]
    else:
        if len(node.args) % 2:
            raise InvalidCommand(f"Bad input to {keyword}, too many arguments")
        pairs = [(node.args[i], node.args[i + 1]) for i in range(0, len(node.args), 2)]
    if not pairs:
        raise InvalidCommand(f"{keyword} requires at least one argument")
    if any(not key for key, _ in pairs):
        raise InvalidCommand(f"{keyword} names can not be blank")
    return pairs


def _parse_arg(node: Instruction) -> ArgCommand:
    if not node.args:
        raise InvalidCommand("ARG requires at least one argument")
    no_flags(node)
    args: list[tuple[str, str | None]] = []
    for word in node.args:
        key, eq, value = word.partition("=")
        if eq and not key:
            raise InvalidCommand("ARG names can not be blank")
        args.append((key, value if eq else None))
    return ArgCommand(node=node, args=args)


def _exactly_one(node: Instruction, keyword: str) -> str:
    if len(node.args) != 1:
        raise InvalidCommand(f"{keyword} requires exactly one argument")
    no_flags(node)
    return node.args[0]


def _parse_healthcheck(node: Instruction) -> HealthcheckCommand:
    if not node.args:
        raise InvalidCommand("HEALTHCHECK requires at least one argument")
    kind = node.args[0].upper()
    rest = list(node.args[1:])
    if kind == "NONE":
        if rest:
            raise InvalidCommand("HEALTHCHECK NONE takes no arguments")
        return HealthcheckCommand(node=node, test=None)
    flags = parse_flags(
        node,
        {
            "interval": STRING,
            "timeout": STRING,
            "start-period": STRING,
            "start-interval": STRING,
            "retries": STRING,
        },
    )
    if kind != "CMD":
        raise InvalidCommand(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    cmd = rest if node.json else ([" ".join(rest)] if rest else [])
    if not cmd:
        raise InvalidCommand("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *cmd] if node.json else ["CMD-SHELL", *cmd]
    durations = {
        name: _interval(name, str_flag(flags, name))
        for name in ("interval", "timeout", "start-period", "start-interval")
    }
    retries = 0
    raw_retries = str_flag(flags, "retries")
    if raw_retries:
        if not re.fullmatch(r"[+-]?\d+", raw_retries):
            raise InvalidCommand(f'strconv.ParseInt: parsing "{raw_retries}": invalid syntax')
        retries = int(raw_retries)
        if retries < 0:
            raise InvalidCommand(f"--retries cannot be negative ({retries})")
    return HealthcheckCommand(
        node=node,
        test=test,
        interval=durations["interval"],
        timeout=durations["timeout"],
        start_period=durations["start-period"],
        start_interval=durations["start-interval"],
        retries=retries,
    )


def _interval(name: str, value: str | None) -> int:
    if not value:
        return 0
    try:
        ns = parse_duration(value)
    except ValueError as exc:
        raise InvalidCommand(
            f"--{name}: {exc}", "durations look like 30s, 1m30s or 500ms"
        ) from None
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise InvalidCommand(f'Interval "{name}" cannot be less than 1ms')
    return ns


_ONBUILD_PREFIX = re.compile(r"^\s*ONBUILD\s*", re.IGNORECASE)


def _parse_onbuild(node: Instruction) -> OnbuildCommand:
    if not node.args and node.child is None:
        raise InvalidCommand("ONBUILD requires at least one argument")
    no_flags(node)
    if node.child is not None:
        trigger = node.child.keyword.upper()
    else:
        trigger = node.args[0].strip().split(None, 1)[0].upper() if node.args[0].strip() else ""
    if trigger == "ONBUILD":
        raise InvalidCommand("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidCommand(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for heredoc in node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return OnbuildCommand(node=node, expression=expression)


def _parse_shell(node: Instruction) -> ShellCommand:
    no_flags(node)
    if not node.args:
        raise InvalidCommand("SHELL requires at least one argument")
    if not node.json:
        raise not_json("SHELL", node.original)
    return ShellCommand(node=node, shell=list(node.args))


def _parse_volume(node: Instruction) -> VolumeCommand:
    if not node.args:
        raise InvalidCommand("VOLUME requires at least one argument")
    no_flags(node)
    volumes = []
    for v in node.args:
        v = v.strip()
        if not v:
            raise InvalidCommand("VOLUME specified can not be an empty string")
        volumes.append(v)
    return VolumeCommand(node=node, volumes=volumes)


def _parse_expose(node: Instruction) -> ExposeCommand:
    if not node.args:
        raise InvalidCommand("EXPOSE requires at least one argument")
    no_flags(node)
    return ExposeCommand(node=node, ports=list(node.args))


def _parse_cmd(node: Instruction) -> CmdCommand:
    no_flags(node)
    return CmdCommand(node=node, cmd_line=_cmd_line(node), prepend_shell=not node.json)


def _parse_entrypoint(node: Instruction) -> EntrypointCommand:
    no_flags(node)
    return EntrypointCommand(node=node, cmd_line=_cmd_line(node), prepend_shell=not node.json)


def _parse_env(node: Instruction) -> EnvCommand:
    return EnvCommand(node=node, pairs=_key_values(node, "ENV"))


def _parse_label(node: Instruction) -> LabelCommand:
    return LabelCommand(node=node, pairs=_key_values(node, "LABEL"))


def _parse_maintainer(node: Instruction) -> MaintainerCommand:
    return MaintainerCommand(node=node, maintainer=_exactly_one(node, "MAINTAINER"))


def _parse_user(node: Instruction) -> UserCommand:
    return UserCommand(node=node, user=_exactly_one(node, "USER"))


def _parse_workdir(node: Instruction) -> WorkdirCommand:
    return WorkdirCommand(node=node, path=_exactly_one(node, "WORKDIR"))


def _parse_stopsignal(node: Instruction) -> StopSignalCommand:
    if len(node.args) != 1:
        raise InvalidCommand("STOPSIGNAL requires exactly one argument")
    no_flags(node)
    return StopSignalCommand(node=node, signal=node.args[0])


_PARSERS: dict[str, Callable[[Instruction], Command]] = {
    "add": _parse_add,
    "arg": _parse_arg,
    "cmd": _parse_cmd,
    "copy": _parse_copy,
    "entrypoint": _parse_entrypoint,
    "env": _parse_env,
    "expose": _parse_expose,
    "from": _parse_from,
    "healthcheck": _parse_healthcheck,
    "label": _parse_label,
    "maintainer": _parse_maintainer,
    "onbuild": _parse_onbuild,
    "run": _parse_run,
    "shell": _parse_shell,
    "stopsignal": _parse_stopsignal,
    "user": _parse_user,
    "volume": _parse_volume,
    "workdir": _parse_workdir,
}
assert set(_PARSERS) == KEYWORDS


def location_of(node: Instruction, path: str, source_line: str | None = None) -> Location:
    """Where an instruction is, for error messages."""
    return Location(
        path=path,
        line=node.start_line,
        column=node.column,
        end_line=node.end_line,
        source_line=source_line,
    )


def parse_command(
    node: Instruction,
    escape: str = "\\",
    *,
    path: str = "Dockerfile",
    source_line: str | None = None,
) -> Command:
    """Turn one raw instruction into its typed command; raise ParseError if invalid.

    `escape` is the file's escape character; nothing is expanded at this
    stage, so it only matters to callers that re-parse ONBUILD triggers.
    """
    del escape  # kept for the signature's symmetry with the shell lexer
    parser = _PARSERS.get(node.keyword.lower())
    if parser is None:
        word = node.written_keyword.upper() or node.keyword.upper()
        raise ParseError(
            f"unknown instruction: {word}",
            location_of(node, path, source_line),
            hint=suggest(word, sorted(k.upper() for k in KEYWORDS)),
        )
    try:
        return parser(node)
    except InvalidCommand as exc:
        raise ParseError(exc.message, location_of(node, path, source_line), exc.hint) from None


def parse_stages(dockerfile: Dockerfile) -> tuple[list[ArgCommand], list[Stage]]:
    """Split a Dockerfile into meta ARGs (before the first FROM) and stages."""
    meta_args: list[ArgCommand] = []
    stages: list[Stage] = []
    for node in dockerfile.instructions:
        cmd = parse_command(
            node,
            dockerfile.escape,
            path=dockerfile.path,
            source_line=dockerfile.source_line(node.start_line),
        )
        if isinstance(cmd, FromCommand):
            stages.append(
                Stage(
                    name=cmd.stage_name,
                    index=len(stages),
                    base_name=cmd.base_name,
                    platform=cmd.platform,
                    commands=[],
                    node=node,
                    from_command=cmd,
                )
            )
        elif stages:
            stages[-1].commands.append(cmd)
        elif isinstance(cmd, ArgCommand):
            meta_args.append(cmd)
        else:
            raise ParseError(
                "no build stage in current context",
                location_of(node, dockerfile.path, dockerfile.source_line(node.start_line)),
                hint=f"only ARG may come before the first FROM, not {cmd.keyword}",
            )
    return meta_args, stages
