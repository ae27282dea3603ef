"""JSON from outside (archives, registries), parsed with a nesting limit.

`json.loads` recurses once per nesting level, so a document of 100,000
nested brackets raises RecursionError instead of a parse error. `parse_json`
turns that, and any nesting deeper than `MAX_DEPTH`, into the caller's typed
error with one clear message. No manifest, index or config needs more than a
handful of levels.
"""

from __future__ import annotations

import json
from typing import Any

from builder.errors import ImageError, PybuildError

#: Deepest nesting accepted (objects and arrays; the top level is 1).
MAX_DEPTH = 100


class JsonTextError(ValueError):
    """Not JSON, or nested too deeply (`too_deep`); `str()` says which."""

    def __init__(self, message: str, *, too_deep: bool = False) -> None:
        super().__init__(message)
        self.too_deep = too_deep


def _too_deep(what: str) -> str:
    return f"{what}: JSON nested more than {MAX_DEPTH} levels deep"


def _depth_exceeds(obj: Any, limit: int) -> bool:
    """Whether `obj` nests deeper than `limit` (iterative: safe on any input)."""
    pending: list[tuple[Any, int]] = [(obj, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def loads_limited(data: bytes | str, what: str = "document") -> Any:
    """Parse JSON; JsonTextError if it is not JSON or nests more than MAX_DEPTH levels."""
    try:
        obj = json.loads(data)
    except RecursionError:
        raise JsonTextError(_too_deep(what), too_deep=True) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise JsonTextError(f"{what}: not valid JSON ({err})") from None
    if _depth_exceeds(obj, MAX_DEPTH):
        raise JsonTextError(_too_deep(what), too_deep=True)
    return obj


def parse_json(
    data: bytes | str,
    what: str,
    error: type[PybuildError] = ImageError,
    hint: str | None = None,
) -> Any:
    """Parse untrusted JSON; `error(message)` when it is not JSON or nests too deeply."""
    try:
        return loads_limited(data, what)
    except JsonTextError as err:
        raise error(str(err), hint=hint) from None
