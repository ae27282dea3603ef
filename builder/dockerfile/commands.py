"""Typed, validated instructions built from the raw AST.

`parse_command` turns one `Instruction` into a `Command` dataclass with its
flags parsed and its arguments checked, the way BuildKit's
`frontend/dockerfile/instructions` package does; `parse_stages` splits a
whole `Dockerfile` into meta ARGs and build stages. Nothing is expanded
here: words keep their `$VARS` (see `builder.plan`), except that
`RUN --mount=from=` may not contain variables at all, as in BuildKit.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from builder.dockerfile.ast import KEYWORDS, Dockerfile, Heredoc, Instruction
from builder.errors import Location, ParseError

# --------------------------------------------------------------------------
# Data


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every typed instruction; `node` is the source instruction."""

    node: Instruction

    @property
    def keyword(self) -> str:
        """Upper-case instruction name: `RUN`."""
        return self.node.keyword.upper()

    @property
    def line(self) -> int:
        return self.node.start_line


@dataclass(frozen=True, kw_only=True)
class FromCommand(Command):
    base_name: str  #: unexpanded: `golang:${GO_VERSION}`
    stage_name: str | None  #: lower-cased `AS` name
    platform: str | None  #: unexpanded `--platform` value


@dataclass(frozen=True, kw_only=True)
class Mount:
    """One `RUN --mount=...` (BuildKit's defaults applied)."""

    type: str = "bind"  #: bind, cache, tmpfs, secret, ssh
    target: str | None = None
    source: str | None = None
    from_: str | None = None  #: stage name, stage index or image
    readonly: bool = True
    id: str | None = None
    sharing: str | None = None  #: shared, private, locked (cache only)
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    size: int | None = None  #: tmpfs size in bytes
    env: str | None = None  #: secret exposed as this environment variable
    raw: str = ""  #: the flag value as written


@dataclass(frozen=True, kw_only=True)
class RunCommand(Command):
    cmd_line: list[str]  #: one shell string, or the exec-form argv
    prepend_shell: bool  #: shell form: run through SHELL
    heredocs: tuple[Heredoc, ...] = ()
    mounts: list[Mount] = field(default_factory=list)
    network: str = "default"  #: default, none, host
    security: str = "sandbox"  #: sandbox, insecure


@dataclass(frozen=True, kw_only=True)
class CopyCommand(Command):
    sources: list[str]  #: paths, heredoc sources excluded (see `heredocs`)
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: list[str] = field(default_factory=list)
    heredocs: tuple[Heredoc, ...] = ()  #: inline sources (`COPY <<EOF /dst`)


@dataclass(frozen=True, kw_only=True)
class AddCommand(Command):
    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    excludes: list[str] = field(default_factory=list)
    heredocs: tuple[Heredoc, ...] = ()
    checksum: str | None = None
    keep_git_dir: bool = False
    unpack: bool | None = None  #: None: not given (ADD decides by source)


@dataclass(frozen=True, kw_only=True)
class EnvCommand(Command):
    pairs: list[tuple[str, str]]  #: values unexpanded, quotes kept


@dataclass(frozen=True, kw_only=True)
class ArgCommand(Command):
    args: list[tuple[str, str | None]]  #: (name, default or None), defaults unexpanded


@dataclass(frozen=True, kw_only=True)
class LabelCommand(Command):
    pairs: list[tuple[str, str]]


@dataclass(frozen=True, kw_only=True)
class MaintainerCommand(Command):
    maintainer: str


@dataclass(frozen=True, kw_only=True)
class ExposeCommand(Command):
    ports: list[str]


@dataclass(frozen=True, kw_only=True)
class VolumeCommand(Command):
    volumes: list[str]


@dataclass(frozen=True, kw_only=True)
class UserCommand(Command):
    user: str


@dataclass(frozen=True, kw_only=True)
class WorkdirCommand(Command):
    path: str


@dataclass(frozen=True, kw_only=True)
class CmdCommand(Command):
    cmd_line: list[str]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class EntrypointCommand(Command):
    cmd_line: list[str]
    prepend_shell: bool


@dataclass(frozen=True, kw_only=True)
class ShellCommand(Command):
    shell: list[str]


@dataclass(frozen=True, kw_only=True)
class StopSignalCommand(Command):
    signal: str


@dataclass(frozen=True, kw_only=True)
class HealthcheckCommand(Command):
    """Durations are Go-style nanoseconds; 0 means "not set" (inherit), as in Docker."""

    test: list[str] | None  #: None for `HEALTHCHECK NONE`; else ["CMD", ...] / ["CMD-SHELL", s]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class OnbuildCommand(Command):
    expression: str  #: the trigger as written, without `ONBUILD`

    @property
    def trigger(self) -> str:
        """Upper-case keyword of the wrapped instruction."""
        return self.expression.split(None, 1)[0].upper() if self.expression.strip() else ""


@dataclass
class Stage:
    """A build stage: a FROM and the commands up to the next FROM."""

    name: str | None  #: lower-cased, None when unnamed
    index: int
    base_name: str  #: unexpanded
    platform: str | None
    commands: list[Command]
    node: Instruction  #: the FROM instruction
    from_command: FromCommand


# --------------------------------------------------------------------------
# Errors and flags


class InvalidCommand(Exception):
    """An invalid instruction or `--mount` value: a message and an optional hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def _suggest(word: str, choices: Sequence[str]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]}?" if match else None


_BOOL, _STRING, _STRINGS = "bool", "string", "strings"


def _parse_flags(node: Instruction, spec: dict[str, str]) -> dict[str, str | list[str]]:
    """Check `node.flags` against `spec` (name -> kind) like BuildKit's BFlags.

    Returns only the flags that were given: bool flags as "true"/"false",
    string flags as their value, repeatable flags as a list.
    """
    used: dict[str, str | list[str]] = {}
    for raw in node.flags:
        if not raw.startswith("--"):
            raise InvalidCommand(f"arg should start with -- : {raw}")
        if raw == "--":
            break
        name, eq, value = raw[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            hint = _suggest(f"--{name}", [f"--{n}" for n in spec])
            raise InvalidCommand(f"unknown flag: --{name}", hint)
        if name in used and kind != _STRINGS:
            raise InvalidCommand(f"duplicate flag specified: --{name}")
        if kind == _BOOL:
            if eq and value == "":
                raise InvalidCommand(f"missing a value on flag: --{name}")
            lower = value.lower() if eq else "true"
            if lower not in ("true", "false"):
                raise InvalidCommand(f"expecting boolean value for flag --{name}, not: {value}")
            used[name] = lower
        elif not eq:
            raise InvalidCommand(f"missing a value on flag: --{name}")
        elif kind == _STRING:
            used[name] = value
        else:
            previous = used.get(name)
            used[name] = [*previous, value] if isinstance(previous, list) else [value]
    return used


def _str_flag(flags: dict[str, str | list[str]], name: str) -> str | None:
    value = flags.get(name)
    return value if isinstance(value, str) else None


def _bool_flag(flags: dict[str, str | list[str]], name: str) -> bool:
    return flags.get(name) == "true"


def _list_flag(flags: dict[str, str | list[str]], name: str) -> list[str]:
    value = flags.get(name)
    return list(value) if isinstance(value, list) else []


def _no_flags(node: Instruction) -> None:
    _parse_flags(node, {})


# --------------------------------------------------------------------------
# Small parsers shared by several instructions

_GO_BOOL = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)?")


def parse_go_bool(value: str) -> bool | None:
    """Go's strconv.ParseBool; None when the text is not a boolean."""
    lowered = value.lower()
    if lowered in _GO_BOOL and value in (lowered, value.upper(), value.capitalize()):
        return _GO_BOOL[lowered]
    return None


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration (`1m30s`, `1.5h`, `300ms`) in nanoseconds.

    Raises ValueError with Go's wording.
    """
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None:
            raise ValueError(f'time: invalid duration "{text}"')
        if m.group(2) is None:
            raise ValueError(f'time: missing unit in duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * round(total)


_RAM_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_RAM_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_ram_size(text: str) -> int:
    """Docker's units.RAMInBytes: `64m`, `1g`, `512kb` (binary multiples)."""
    m = _RAM_SIZE.match(text)
    if m is None:
        raise ValueError(f"invalid size: '{text}'")
    unit = m.group(2)
    factor = _RAM_UNITS[unit.lower()] if unit else 1
    return int(float(m.group(1)) * factor)


_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")


def heredoc_name(word: str) -> str | None:
    """The delimiter of a heredoc marker word (`<<EOF`, `<<-"EOF"`), else None."""
    m = _HEREDOC_WORD.match(word)
    if m is None:
        return None
    name = m.group(3).strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        name = name[1:-1]
    return name or None


def _not_json(keyword: str, original: str) -> InvalidCommand:
    hint = None
    if re.search(r"\[\s*\"?[a-zA-Z]:\\", original):
        hint = "JSON strings need escaped backslashes: use \\\\ in paths"
    return InvalidCommand(f"{keyword} requires the arguments to be in JSON form", hint)


# --------------------------------------------------------------------------
# RUN --mount

MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING_MODES = ("shared", "private", "locked")
NETWORK_MODES = ("default", "none", "host")
SECURITY_MODES = ("sandbox", "insecure")
_MOUNT_KEYS = (
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
    "readwrite", "rw", "id", "sharing", "required", "mode", "uid", "gid", "size", "env",
)  # fmt: skip


def split_csv(line: str) -> list[str]:
    """One line of CSV the way Go's encoding/csv reads it (quotes only around a whole field)."""
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            i += 1
            parts = []
            while True:
                j = line.find('"', i)
                if j < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                parts.append(line[i:j])
                i = j + 1
                if i < n and line[i] == '"':
                    parts.append('"')
                    i += 1
                    continue
                break
            if i < n and line[i] != ",":
                raise ValueError('extraneous or missing " in quoted-field')
            fields.append("".join(parts))
        else:
            end = line.find(",", i)
            end = n if end < 0 else end
            if '"' in line[i:end]:
                raise ValueError('bare " in non-quoted field')
            fields.append(line[i:end])
            i = end
        if i >= n:
            return fields
        i += 1


def parse_mount(value: str, expand: Callable[[str], str] | None = None) -> Mount:
    """Parse one `--mount` CSV value like BuildKit.

    With `expand` each value is expanded first. Without it (parse time),
    values holding a `$` are kept as written and checked later, once
    expanded; `from` may never hold a variable.
    """
    try:
        fields_ = split_csv(value)
    except ValueError as exc:
        raise InvalidCommand(f"failed to parse csv mounts: {exc}") from None
    m: dict[str, object] = {"type": "bind", "readonly": True, "required": False}
    ro_auto = True
    deferred: set[str] = set()
    for item in fields_:
        key, eq, val = item.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                m["readonly"], ro_auto = True, False
                continue
            if key in ("readwrite", "rw"):
                m["readonly"], ro_auto = False, False
                continue
            if key == "required":
                if m["type"] not in ("secret", "ssh"):
                    raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
                m["required"] = True
                continue
            raise InvalidCommand(f"invalid field '{item}' must be a key=value pair")
        if key == "from" and re.search(r"\$.", val):
            raise InvalidCommand(
                f"'{key}' doesn't support variable expansion, define alias stage instead"
            )
        if expand is not None:
            val = expand(val)
        elif "$" in val:
            deferred.add(key)
            _store_deferred(m, key, val)
            continue
        ro_auto = _apply_mount_key(m, key, val, item, ro_auto)
    return _finish_mount(m, ro_auto, deferred, value)


def _store_deferred(m: dict[str, object], key: str, val: str) -> None:
    aliases = {"src": "source", "dst": "target", "destination": "target", "from": "from_"}
    name = aliases.get(key, key)
    if name in ("source", "target", "from_", "id", "env"):
        m[name] = val


def _apply_mount_key(m: dict[str, object], key: str, val: str, item: str, ro_auto: bool) -> bool:
    if key == "type":
        if val.lower() not in MOUNT_TYPES:
            raise InvalidCommand(
                f'unsupported mount type "{val}"', _suggest(val.lower(), MOUNT_TYPES)
            )
        m["type"] = val.lower()
    elif key == "from":
        m["from_"] = val
    elif key in ("source", "src"):
        m["source"] = val
    elif key in ("target", "dst", "destination"):
        m["target"] = val
    elif key in ("readonly", "ro", "readwrite", "rw"):
        flag = parse_go_bool(val)
        if flag is None:
            raise InvalidCommand(f"invalid value for {key}: {val}")
        m["readonly"] = flag if key in ("readonly", "ro") else not flag
        return False
    elif key == "required":
        if m["type"] not in ("secret", "ssh"):
            raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
        flag = parse_go_bool(val)
        if flag is None:
            raise InvalidCommand(f"invalid value for {key}: {val}")
        m["required"] = flag
    elif key == "id":
        m["id"] = val
    elif key == "sharing":
        if val.lower() not in SHARING_MODES:
            raise InvalidCommand(f'unsupported sharing value "{val}"')
        m["sharing"] = val.lower()
    elif key == "mode":
        if not re.fullmatch(r"[0-7]+", val) or int(val, 8) >= 1 << 32:
            raise InvalidCommand(f"invalid value {val} for mode")
        m["mode"] = int(val, 8)
    elif key in ("uid", "gid"):
        if not re.fullmatch(r"[0-9]+", val) or int(val) >= 1 << 32:
            raise InvalidCommand(f"invalid value {val} for {key}")
        m[key] = int(val)
    elif key == "size":
        if m["type"] != "tmpfs":
            raise InvalidCommand(f"unexpected key '{key}' for mount type '{m['type']}'")
        try:
            m["size"] = parse_ram_size(val)
        except ValueError as exc:
            raise InvalidCommand(str(exc)) from None
    elif key == "env":
        m["env"] = val
    else:
        raise InvalidCommand(f"unexpected key '{key}' in '{item}'", _suggest(key, _MOUNT_KEYS))
    return ro_auto


def _finish_mount(m: dict[str, object], ro_auto: bool, deferred: set[str], raw: str) -> Mount:
    mtype = str(m["type"])
    file_info = mtype in ("secret", "ssh", "cache")
    for key in ("mode", "uid", "gid"):
        if m.get(key) is not None and not file_info:
            raise InvalidCommand(f'{key} not allowed for "{mtype}" type mounts')
    if ro_auto:
        m["readonly"] = mtype not in ("cache", "tmpfs")
    if m.get("sharing") is not None and mtype != "cache":
        raise InvalidCommand(f"invalid cache sharing set for {mtype} mount")
    if m.get("env") is not None and mtype != "secret":
        raise InvalidCommand(f"unexpected key 'env' for mount type '{mtype}'")
    if mtype == "secret":
        if m.get("from_") is not None:
            raise InvalidCommand("secret mount should not have a from")
        if not (m.get("source") or m.get("target") or m.get("id") or m.get("env")):
            raise InvalidCommand("invalid secret mount. one of source, target required")
        if m.get("source") and m.get("id"):
            raise InvalidCommand("both source and id can't be set")
    needs_target = mtype in ("bind", "cache", "tmpfs") and not (
        deferred & {"target", "dst", "destination"}
    )
    if needs_target and not m.get("target"):
        raise InvalidCommand(f'mount type "{mtype}" requires a target (target=/path)')
    return Mount(
        type=mtype,
        target=_opt_str(m.get("target")),
        source=_opt_str(m.get("source")),
        from_=_opt_str(m.get("from_")),
        readonly=bool(m["readonly"]),
        id=_opt_str(m.get("id")),
        sharing=_opt_str(m.get("sharing")),
        mode=_opt_int(m.get("mode")),
        uid=_opt_int(m.get("uid")),
        gid=_opt_int(m.get("gid")),
        required=bool(m["required"]),
        size=_opt_int(m.get("size")),
        env=_opt_str(m.get("env")),
        raw=raw,
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------
# One parser per instruction

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
    flags = _parse_flags(node, {"platform": _STRING})
    return FromCommand(
        node=node, base_name=args[0], stage_name=stage_name, platform=_str_flag(flags, "platform")
    )


def _cmd_line(node: Instruction) -> list[str]:
    """BuildKit's handleJSONArgs: exec form as is, shell form as one string."""
    if node.json:
        return list(node.args)
    return [" ".join(node.args)] if node.args else []


def _parse_run(node: Instruction) -> RunCommand:
    flags = _parse_flags(node, {"mount": _STRINGS, "network": _STRING, "security": _STRING})
    network = _str_flag(flags, "network") or "default"
    if network not in NETWORK_MODES:
        raise InvalidCommand(f'invalid network mode "{network}"', _suggest(network, NETWORK_MODES))
    security = _str_flag(flags, "security") or "sandbox"
    if security not in SECURITY_MODES:
        raise InvalidCommand(
            f'security "{security}" is not valid', _suggest(security, SECURITY_MODES)
        )
    mounts = [parse_mount(v) for v in _list_flag(flags, "mount")]
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


def _parse_copy(node: Instruction) -> CopyCommand:
    flags = _parse_flags(
        node,
        {
            "from": _STRING,
            "chown": _STRING,
            "chmod": _STRING,
            "link": _BOOL,
            "parents": _BOOL,
            "exclude": _STRINGS,
        },
    )
    sources, dest, inline = _sources_and_dest(node, "COPY")
    return CopyCommand(
        node=node,
        sources=sources,
        dest=dest,
        from_=_str_flag(flags, "from") or None,
        chown=_str_flag(flags, "chown") or None,
        chmod=_str_flag(flags, "chmod") or None,
        link=_bool_flag(flags, "link"),
        parents=_bool_flag(flags, "parents"),
        excludes=_list_flag(flags, "exclude"),
        heredocs=inline,
    )


def _parse_add(node: Instruction) -> AddCommand:
    flags = _parse_flags(
        node,
        {
            "chown": _STRING,
            "chmod": _STRING,
            "link": _BOOL,
            "exclude": _STRINGS,
            "checksum": _STRING,
            "keep-git-dir": _BOOL,
            "unpack": _BOOL,
        },
    )
    sources, dest, inline = _sources_and_dest(node, "ADD")
    return AddCommand(
        node=node,
        sources=sources,
        dest=dest,
        chown=_str_flag(flags, "chown") or None,
        chmod=_str_flag(flags, "chmod") or None,
        link=_bool_flag(flags, "link"),
        excludes=_list_flag(flags, "exclude"),
        heredocs=inline,
        checksum=_str_flag(flags, "checksum") or None,
        keep_git_dir=_bool_flag(flags, "keep-git-dir"),
        unpack=_bool_flag(flags, "unpack") if "unpack" in flags else None,
    )


def _key_values(node: Instruction, keyword: str) -> list[tuple[str, str]]:
    _no_flags(node)
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
    _no_flags(node)
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
    _no_flags(node)
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
    flags = _parse_flags(
        node,
        {
            "interval": _STRING,
            "timeout": _STRING,
            "start-period": _STRING,
            "start-interval": _STRING,
            "retries": _STRING,
        },
    )
    if kind != "CMD":
        raise InvalidCommand(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    cmd = rest if node.json else ([" ".join(rest)] if rest else [])
    if not cmd:
        raise InvalidCommand("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *cmd] if node.json else ["CMD-SHELL", *cmd]
    durations = {
        name: _interval(name, _str_flag(flags, name))
        for name in ("interval", "timeout", "start-period", "start-interval")
    }
    retries = 0
    raw_retries = _str_flag(flags, "retries")
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
    _no_flags(node)
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
    _no_flags(node)
    if not node.args:
        raise InvalidCommand("SHELL requires at least one argument")
    if not node.json:
        raise _not_json("SHELL", node.original)
    return ShellCommand(node=node, shell=list(node.args))


def _parse_volume(node: Instruction) -> VolumeCommand:
    if not node.args:
        raise InvalidCommand("VOLUME requires at least one argument")
    _no_flags(node)
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
    _no_flags(node)
    return ExposeCommand(node=node, ports=list(node.args))


def _parse_cmd(node: Instruction) -> CmdCommand:
    _no_flags(node)
    return CmdCommand(node=node, cmd_line=_cmd_line(node), prepend_shell=not node.json)


def _parse_entrypoint(node: Instruction) -> EntrypointCommand:
    _no_flags(node)
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
    _no_flags(node)
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


# --------------------------------------------------------------------------
# Public entry points


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
            hint=_suggest(word, sorted(k.upper() for k in KEYWORDS)),
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
