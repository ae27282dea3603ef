"""The functions templates can call: Go's builtins and the ones Docker adds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from builder.cli.gotemplate.errors import TemplateError
from builder.cli.gotemplate.printf import sprintf
from builder.cli.gotemplate.values import Nil, to_json, to_text, truth


def _sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += to_text(arg, top=False)
    return out


def _length(value: Any) -> int:
    if isinstance(value, Nil):
        return 0
    if isinstance(value, (str, list, dict, tuple)):
        return len(value.encode()) if isinstance(value, str) else len(value)
    raise TemplateError(f"error calling len: len of type {type(value).__name__}")


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, Nil) and value.kind == "map":
            value = None
        elif isinstance(value, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise TemplateError(
                    f"error calling index: cannot index slice/array with type {type(key).__name__}"
                )
            if not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key] if not isinstance(value, str) else value.encode()[key]
        else:
            raise TemplateError(
                f"error calling index: can't index item of type {type(value).__name__}"
            )
    return value


def _basic(value: Any) -> Any:
    return None if isinstance(value, Nil) else value


def _compare_ok(a: Any, b: Any) -> bool:
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, num) and isinstance(b, num):
        return True
    return type(a) is type(b)


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("error calling eq: missing argument for comparison")
    a = _basic(first)
    for other in others:
        b = _basic(other)
        if a is None or b is None:
            if a is b:
                return True
            continue
        if not _compare_ok(a, b):
            raise TemplateError("error calling eq: incompatible types for comparison")
        if isinstance(a, (list, dict)):
            raise TemplateError("error calling eq: invalid type for comparison")
        if a == b:
            return True
    return False


def _order(name: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if not _compare_ok(a, b) or isinstance(a, (bool, list, dict)) or a is None:
            raise TemplateError(f"error calling {name}: incompatible types for comparison")
        return test(a, b)

    return compare


def _title(text: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    return re.sub(r"(?:^|(?<=[^\w']))(\w)", lambda m: m.group(1).upper(), text)


def _truncate(text: str, length: int) -> str:
    """Docker's truncateWithLength: the first `length` bytes."""
    raw = text.encode()
    return text if len(raw) < length else raw[:length].decode(errors="ignore")


def _pad(text: str, prefix: int, suffix: int) -> str:
    """Docker's padWithSpace: spaces around, none for an empty string."""
    return text if text == "" else " " * prefix + text + " " * suffix


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TemplateError(
            f"error calling {name}: wrong type for value; expected string;"
            f" got {type(value).__name__}"
        )
    return value


def _join(items: Any, sep: str) -> str:
    if isinstance(items, Nil):
        return ""
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise TemplateError("error calling join: wrong type for value; expected []string")
    return sep.join(items)


def _split(text: str, sep: str) -> list[str]:
    text = _string("split", text)
    return list(text) if sep == "" else text.split(sep)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _length,
    "index": _index,
    "printf": lambda fmt, *a: sprintf(_string("printf", fmt), list(a)),
    "print": lambda *a: _sprint(list(a)),
    "println": lambda *a: " ".join(to_text(x, top=False) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _order("lt", lambda a, b: a < b),
    "le": _order("le", lambda a, b: a <= b),
    "gt": _order("gt", lambda a, b: a > b),
    "ge": _order("ge", lambda a, b: a >= b),
    "not": lambda a: not truth(a),
    "json": to_json,
    "join": _join,
    "split": _split,
    "upper": lambda s: _string("upper", s).upper(),
    "lower": lambda s: _string("lower", s).lower(),
    "title": lambda s: _title(_string("title", s)),
    "truncate": lambda s, n: _truncate(_string("truncate", s), n),
    "pad": lambda s, a, b: _pad(_string("pad", s), a, b),
    "html": lambda *a: (
        _sprint(list(a))
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    ),
    "urlquery": lambda *a: __import__("urllib.parse").parse.quote_plus(_sprint(list(a))),
}

#: Functions with Docker's header semantics (`table` headers): they pass the name through.
HEADER_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **FUNCTIONS,
    **{
        name: (lambda v, *rest: v)
        for name in ("json", "split", "join", "title", "lower", "upper", "pad", "truncate")
    },
}
