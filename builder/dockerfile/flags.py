"""Instruction flags, and the small value parsers several instructions share.

`parse_flags` checks an instruction's `--name[=value]` flags against what
the instruction accepts, as BuildKit's BFlags does; the rest parse Go
booleans, durations, sizes and heredoc marker words.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from builder.dockerfile.ast import Instruction


class InvalidCommand(Exception):
    """An invalid instruction or `--mount` value: a message and an optional hint."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def suggest(word: str, choices: Sequence[str]) -> str | None:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {match[0]}?" if match else None


BOOL, STRING, STRINGS = "bool", "string", "strings"


def parse_flags(node: Instruction, spec: dict[str, str]) -> dict[str, str | list[str]]:
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
            hint = suggest(f"--{name}", [f"--{n}" for n in spec])
            raise InvalidCommand(f"unknown flag: --{name}", hint)
        if name in used and kind != STRINGS:
            raise InvalidCommand(f"duplicate flag specified: --{name}")
        if kind == BOOL:
            if eq and value == "":
                raise InvalidCommand(f"missing a value on flag: --{name}")
            lower = value.lower() if eq else "true"
            if lower not in ("true", "false"):
                raise InvalidCommand(f"expecting boolean value for flag --{name}, not: {value}")
            used[name] = lower
        elif not eq:
            raise InvalidCommand(f"missing a value on flag: --{name}")
        elif kind == STRING:
            used[name] = value
        else:
            previous = used.get(name)
            used[name] = [*previous, value] if isinstance(previous, list) else [value]
    return used


def str_flag(flags: dict[str, str | list[str]], name: str) -> str | None:
    value = flags.get(name)
    return value if isinstance(value, str) else None


def bool_flag(flags: dict[str, str | list[str]], name: str) -> bool:
    return flags.get(name) == "true"


def list_flag(flags: dict[str, str | list[str]], name: str) -> list[str]:
    value = flags.get(name)
    return list(value) if isinstance(value, list) else []


def no_flags(node: Instruction) -> None:
    parse_flags(node, {})


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


def not_json(keyword: str, original: str) -> InvalidCommand:
    hint = None
    if re.search(r"\[\s*\"?[a-zA-Z]:\\", original):
        hint = "JSON strings need escaped backslashes: use \\\\ in paths"
    return InvalidCommand(f"{keyword} requires the arguments to be in JSON form", hint)
