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


class GoStruct(dict[str, Any]):
    """A Go struct: fields in declaration order; prints `{v1 v2 ...}`, not `map[...]`.

    Field access and `json` work as on a dict; `json` leaves out the fields
    named in `omit_empty` when they are empty (Go's `json:",omitempty"`).
    """

    def __init__(self, fields: Any = (), omit_empty: frozenset[str] = frozenset()) -> None:
        super().__init__(fields)
        self.omit_empty = omit_empty


class GoTime(str):
    """A Go `time.Time`, held as its JSON text (RFC 3339); prints as `Time.String()`."""

    def go_string(self) -> str:
        """`2006-01-02 15:04:05.999999999 -0700 MST` (fraction trimmed; UTC as `+0000 UTC`)."""
        text = str(self)
        date, _, rest = text.partition("T")
        clock = rest
        zone = ""
        for mark in ("Z", "+", "-"):
            if mark in rest:
                clock, _, zone = rest.partition(mark)
                zone = mark + zone
                break
        whole, dot, fraction = clock.partition(".")
        fraction = fraction.rstrip("0")
        clock = whole + ("." + fraction if dot and fraction else "")
        if zone in ("Z", "+00:00", ""):
            return f"{date} {clock} +0000 UTC"
        offset = zone.replace(":", "")
        return f"{date} {clock} {offset} {offset}"


def truth(value: Any) -> bool:
    """text/template's truth: false, 0, nil and empty things are false."""
    if value is None or isinstance(value, Nil):
        return False
    if isinstance(value, GoStruct):
        return True  # a struct (or a non-nil pointer to one) is always true
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
    if isinstance(value, GoTime):
        return value.go_string()
    if isinstance(value, GoStruct):
        return "{" + " ".join(to_text(v, False) for v in value.values()) + "}"
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
    if isinstance(value, GoTime):
        return str(value)
    if isinstance(value, GoStruct):
        return {
            k: _plain(v) for k, v in value.items() if not (k in value.omit_empty and not truth(v))
        }
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
