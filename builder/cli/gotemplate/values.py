"""Go's view of JSON-like data: typed nils, truth, and fmt's `%v` printing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Nil:
    """A nil of a known Go type: prints `[]`, `map[]` or `<nil>`, encodes as null.

    A plain None is a missing or nil interface value (`<no value>`), as in the
    maps Docker's raw fallback decodes JSON into.
    """

    kind: str  #: "slice", "map" or "pointer"


NIL_SLICE = Nil("slice")
NIL_MAP = Nil("map")
NIL_POINTER = Nil("pointer")


def truth(value: Any) -> bool:
    """text/template's truth: false, 0, nil and empty things are false."""
    if value is None or isinstance(value, Nil):
        return False
    if isinstance(value, (bool, int, float, str, list, dict, tuple)):
        return bool(value)
    return True


def format_float(value: float) -> str:
    """Go's `%v` of a float64: the shortest digits, exponent below 1e-4 or from 1e21."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    exact = Decimal(repr(value))
    if value == 0 or 1e-4 <= abs(value) < 1e21:
        text = format(exact, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    sign, digits, exp = exact.normalize().as_tuple()
    assert isinstance(exp, int)
    head = "".join(map(str, digits))
    power = exp + len(head) - 1
    mantissa = head[0] + ("." + head[1:] if len(head) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"


def to_text(value: Any, top: bool = True) -> str:
    """fmt.Sprint of a value as text/template prints it."""
    if value is None:
        return "<no value>" if top else "<nil>"
    if isinstance(value, Nil):
        return {"slice": "[]", "map": "map[]"}.get(value.kind, "<nil>")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, dict):
        inner = " ".join(
            f"{to_text(k, False)}:{to_text(v, False)}" for k, v in sorted(value.items())
        )
        return f"map[{inner}]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(to_text(v, False) for v in value) + "]"
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Nil):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(value: Any, escape_html: bool = False) -> str:
    """Go's encoding/json: compact, `<>&` escaped only when asked, U+2028/9 always."""
    text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def plain(value: Any) -> Any:
    """The data with typed nils turned back into None (for JSON output)."""
    return _plain(value)
