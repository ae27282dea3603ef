"""The functions bake files may call: a subset of buildx's standard library.

buildx offers go-cty's standard library plus a few of its own
(docs/bake-stdlib.md in docker/buildx). These are implemented, with cty's
behaviour for the common cases: strings (`upper`, `lower`, `title`,
`trim*`, `chomp`, `replace`, `regex_replace`, `split`, `join`, `substr`,
`strlen`, `format`, `indent`, `sanitize`, `urlencode`, `regex`,
`regexall`), numbers (`add`, `subtract`, `multiply`, `divide`, `modulo`,
`negate`, `abs`olute, `ceil`, `floor`, `max`, `min`, `pow`, `signum`,
`int`, `parseint`), logic and comparison (`and`, `or`, `not`, `equal`,
`notequal`, `greaterthan`, `lessthan` and their `...orequalto`), collections
(`length`, `concat`, `contains`, `distinct`, `element`, `flatten`, `index`,
`indexof`, `keys`, `values`, `lookup`, `merge`, `reverse`, `reverselist`,
`slice`, `sort`, `range`, `compact`, `coalesce`, `coalescelist`, `hasindex`,
`chunklist`), encodings (`jsonencode`, `jsondecode`, `csvdecode`), time
(`timestamp`, `formatdate` with the common verbs), paths (`basename`,
`dirname`, `homedir`) and `semvercmp`. The others (`cidr*`, `bcrypt`,
`rsadecrypt`, `set*`, `try`, `can`, `convert`, `formatlist`, ...) are not.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import posixpath
import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from builder.bake.expr import equal, number_text, to_bool, to_number, to_str, type_name


def _num(value: float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _s(value: Any) -> str:
    return to_str(value)


def _format(spec: Any, *args: Any) -> str:
    """cty's format: %s %d %f %q %v %t %% (widths and precision as printf)."""
    text = _s(spec)
    values = list(args)
    out: list[str] = []
    pattern = re.compile(r"%([-+ 0#]*)(\d*)(?:\.(\d+))?([sdfqvtxXobeE%])")
    pos = 0
    for match in pattern.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if not values:
            raise ValueError("not enough arguments for the format string")
        value = values.pop(0)
        if verb in ("s", "v"):
            rendered = json.dumps(value) if isinstance(value, list | dict) else _s(value)
        elif verb == "q":
            rendered = json.dumps(_s(value))
        elif verb == "t":
            rendered = "true" if to_bool(value) else "false"
        elif verb == "d":
            rendered = str(int(to_number(value)))
        elif verb in "xXob":
            rendered = format(int(to_number(value)), verb)
        else:
            digits = int(precision) if precision else 6
            rendered = f"{float(to_number(value)):.{digits}{verb}}"
        if width:
            size = int(width)
            if "-" in flags:
                rendered = rendered.ljust(size)
            else:
                rendered = rendered.rjust(size, "0" if "0" in flags else " ")
        out.append(rendered)
    out.append(text[pos:])
    return "".join(out)


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        out.extend(_flatten(value) if isinstance(value, list) else [value])
    return out


def _index_of(values: list[Any], value: Any) -> int:
    for position, item in enumerate(values):
        if equal(item, value):
            return position
    raise ValueError("item not found")


def _lookup(mapping: dict[str, Any], key: Any, *default: Any) -> Any:
    name = _s(key)
    if name in mapping:
        return mapping[name]
    if default:
        return default[0]
    raise ValueError(f"the map has no key {name!r}")


def _merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mapping in maps:
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise ValueError(f"merge takes maps, not {type_name(mapping)}")
        out.update(mapping)
    return out


def _range(*args: Any) -> list[int | float]:
    numbers = [to_number(a) for a in args]
    start, step = 0.0, 1.0
    if len(numbers) == 1:
        end = numbers[0]
    elif len(numbers) == 2:
        start, end = numbers
    else:
        start, end, step = numbers
    if step == 0:
        raise ValueError("step must not be zero")
    out: list[int | float] = []
    value = float(start)
    while (step > 0 and value < end) or (step < 0 and value > end):
        out.append(_num(value))
        value += step
    return out


def _slice(values: list[Any], start: Any, end: Any) -> list[Any]:
    return values[int(to_number(start)) : int(to_number(end))]


def _substr(text: Any, offset: Any, length: Any) -> str:
    value = _s(text)
    start = int(to_number(offset))
    if start < 0:
        start += len(value)
    count = int(to_number(length))
    return value[start:] if count < 0 else value[start : start + count]


def _csvdecode(text: Any) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(_s(text))))
    if not rows:
        raise ValueError("missing header line")
    head = rows[0]
    return [dict(zip(head, row, strict=False)) for row in rows[1:]]


def _parseint(text: Any, base: Any) -> int:
    return int(_s(text), int(to_number(base)))


_DATE_VERBS = (
    ("YYYY", "%Y"), ("YY", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"),
    ("DD", "%d"), ("EEEE", "%A"), ("EEE", "%a"), ("hh", "%H"), ("mm", "%M"),
    ("ss", "%S"), ("ZZZ", "UTC"), ("Z", "Z"),
)  # fmt: skip


def _formatdate(spec: Any, stamp: Any) -> str:
    when = datetime.fromisoformat(_s(stamp).replace("Z", "+00:00")).astimezone(UTC)
    text = _s(spec)
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "'":
            end = text.find("'", index + 1)
            out.append(text[index + 1 : end if end >= 0 else len(text)])
            index = end + 1 if end >= 0 else len(text)
            continue
        for verb, code in _DATE_VERBS:
            if text.startswith(verb, index):
                out.append(when.strftime(code) if code.startswith("%") else code)
                index += len(verb)
                break
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _semver(text: str) -> tuple[int, ...]:
    core = _s(text).lstrip("v").split("-", 1)[0].split("+", 1)[0]
    return tuple(int(p) for p in core.split("."))


def _semvercmp(version: Any, constraint: Any) -> bool:
    match = re.fullmatch(r"\s*(>=|<=|!=|=|>|<|~>)?\s*(\S+)\s*", _s(constraint))
    if match is None:
        raise ValueError(f"invalid constraint {constraint!r}")
    op, wanted = match.group(1) or "=", _semver(match.group(2))
    have = _semver(_s(version))
    size = max(len(have), len(wanted))
    have, wanted = have + (0,) * (size - len(have)), wanted + (0,) * (size - len(wanted))
    if op == "~>":
        return have >= wanted and have[: len(wanted) - 1] == wanted[: len(wanted) - 1]
    return {
        "=": have == wanted, "!=": have != wanted, ">": have > wanted,
        "<": have < wanted, ">=": have >= wanted, "<=": have <= wanted,
    }[op]  # fmt: skip


def _sanitize(text: Any) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", _s(text))


def _indent(spaces: Any, text: Any) -> str:
    pad = " " * int(to_number(spaces))
    return _s(text).replace("\n", "\n" + pad)


def _chunklist(values: list[Any], size: Any) -> list[list[Any]]:
    step = int(to_number(size))
    if step <= 0:
        return [values]
    return [values[i : i + step] for i in range(0, len(values), step)]


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty argument")


def _coalescelist(*values: Any) -> Any:
    for value in values:
        if value:
            return value
    raise ValueError("no non-empty list argument")


def _sort(values: list[Any]) -> list[str]:
    return sorted(_s(v) for v in values)


def _regex(pattern: Any, text: Any) -> Any:
    compiled = re.compile(_s(pattern))
    match = compiled.search(_s(text))
    if match is None:
        raise ValueError("pattern did not match")
    if compiled.groupindex:
        return {name: match.group(name) for name in compiled.groupindex}
    if compiled.groups:
        return list(match.groups())
    return match.group(0)


def _regexall(pattern: Any, text: Any) -> list[Any]:
    compiled = re.compile(_s(pattern))
    out: list[Any] = []
    for match in compiled.finditer(_s(text)):
        if compiled.groupindex:
            out.append({name: match.group(name) for name in compiled.groupindex})
        elif compiled.groups:
            out.append(list(match.groups()))
        else:
            out.append(match.group(0))
    return out


def _regex_replace(text: Any, pattern: Any, replacement: Any) -> str:
    go_style = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", _s(replacement))
    return re.sub(_s(pattern), go_style, _s(text))


def _values(mapping: dict[str, Any]) -> list[Any]:
    return [mapping[k] for k in sorted(mapping)]


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _title(text: Any) -> str:
    return re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), _s(text))


def _element(values: list[Any], index: Any) -> Any:
    if not values:
        raise ValueError("cannot use element function with an empty list")
    return values[int(to_number(index)) % len(values)]


def _hasindex(collection: Any, key: Any) -> bool:
    if isinstance(collection, list):
        return 0 <= int(to_number(key)) < len(collection)
    return isinstance(collection, dict) and _s(key) in collection


STDLIB: dict[str, Callable[..., Any]] = {
    "absolute": lambda n: _num(abs(to_number(n))),
    "add": lambda a, b: _num(to_number(a) + to_number(b)),
    "and": lambda a, b: to_bool(a) and to_bool(b),
    "basename": lambda p: posixpath.basename(_s(p)),
    "ceil": lambda n: math.ceil(to_number(n)),
    "chomp": lambda s: re.sub(r"(\r\n|\n|\r)+$", "", _s(s)),
    "chunklist": _chunklist,
    "coalesce": _coalesce,
    "coalescelist": _coalescelist,
    "compact": lambda values: [v for v in values if v not in (None, "")],
    "concat": lambda *lists: [item for values in lists for item in values],
    "contains": lambda values, v: any(equal(item, v) for item in values),
    "csvdecode": _csvdecode,
    "dirname": lambda p: posixpath.dirname(_s(p)) or ".",
    "distinct": lambda values: [v for i, v in enumerate(values) if v not in values[:i]],
    "divide": lambda a, b: _num(to_number(a) / to_number(b)),
    "element": _element,
    "equal": equal,
    "flatten": _flatten,
    "floor": lambda n: math.floor(to_number(n)),
    "format": _format,
    "formatdate": _formatdate,
    "greaterthan": lambda a, b: to_number(a) > to_number(b),
    "greaterthanorequalto": lambda a, b: to_number(a) >= to_number(b),
    "hasindex": _hasindex,
    "homedir": lambda: os.path.expanduser("~"),
    "indent": _indent,
    "index": _index_of,
    "indexof": _index_of,
    "int": lambda n: int(to_number(n)),
    "join": lambda sep, *lists: _s(sep).join(_s(v) for values in lists for v in values),
    "jsondecode": lambda s: json.loads(_s(s)),
    "jsonencode": lambda v: json.dumps(v, separators=(",", ":")),
    "keys": lambda m: sorted(m),
    "length": lambda v: len(v) if isinstance(v, list | dict) else len(_s(v)),
    "lessthan": lambda a, b: to_number(a) < to_number(b),
    "lessthanorequalto": lambda a, b: to_number(a) <= to_number(b),
    "log": lambda n, base: _num(math.log(to_number(n), to_number(base))),
    "lookup": _lookup,
    "lower": lambda s: _s(s).lower(),
    "max": lambda *n: _num(max(to_number(v) for v in n)),
    "merge": _merge,
    "min": lambda *n: _num(min(to_number(v) for v in n)),
    "modulo": lambda a, b: _num(math.fmod(to_number(a), to_number(b))),
    "multiply": lambda a, b: _num(to_number(a) * to_number(b)),
    "negate": lambda n: _num(-to_number(n)),
    "not": lambda v: not to_bool(v),
    "notequal": lambda a, b: not equal(a, b),
    "or": lambda a, b: to_bool(a) or to_bool(b),
    "parseint": _parseint,
    "pow": lambda a, b: _num(math.pow(to_number(a), to_number(b))),
    "range": _range,
    "regex": _regex,
    "regexall": _regexall,
    "regex_replace": _regex_replace,
    "replace": lambda s, old, new: _s(s).replace(_s(old), _s(new)),
    "reverse": lambda s: _s(s)[::-1],
    "reverselist": lambda values: list(reversed(values)),
    "sanitize": _sanitize,
    "semvercmp": _semvercmp,
    "signum": lambda n: (to_number(n) > 0) - (to_number(n) < 0),
    "slice": _slice,
    "sort": _sort,
    "split": lambda sep, s: _s(s).split(_s(sep)),
    "strlen": lambda s: len(_s(s)),
    "substr": _substr,
    "subtract": lambda a, b: _num(to_number(a) - to_number(b)),
    "timestamp": _timestamp,
    "title": _title,
    "trim": lambda s, chars: _s(s).strip(_s(chars)),
    "trimprefix": lambda s, p: _s(s).removeprefix(_s(p)),
    "trimspace": lambda s: _s(s).strip(),
    "trimsuffix": lambda s, p: _s(s).removesuffix(_s(p)),
    "upper": lambda s: _s(s).upper(),
    "urlencode": lambda s: urllib.parse.quote(_s(s), safe=""),
    "values": _values,
}

__all__ = ["STDLIB", "number_text"]
