"""Go's fmt.Sprintf for the verbs templates use: %s %d %v %q %t %x %X %f %e %g %c %%."""

from __future__ import annotations

import json
import re
from typing import Any

from builder.cli.gotemplate.values import format_float, to_text

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _one(verb: str, flags: str, prec: int | None, arg: Any) -> str:
    if verb in ("v", "s"):
        if verb == "v" and "+" not in flags and isinstance(arg, str) and "#" in flags:
            return _quote(arg)
        text = to_text(arg, top=False)
        return text[:prec] if prec is not None and verb == "s" else text
    if verb == "q":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return "'" + chr(arg) + "'"
        return _quote(to_text(arg, top=False))
    if verb == "t":
        return (
            to_text(arg, top=False)
            if isinstance(arg, bool)
            else f"%!t({_type(arg)}={to_text(arg, False)})"
        )
    if verb == "d":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return ("+" if "+" in flags and arg >= 0 else "") + str(arg)
        if isinstance(arg, list):
            return "[" + " ".join(_one("d", flags, prec, a) for a in arg) + "]"
        return f"%!d({_type(arg)}={to_text(arg, False)})"
    if verb in ("x", "X"):
        if isinstance(arg, int) and not isinstance(arg, bool):
            text = format(arg, "x")
        elif isinstance(arg, str):
            text = arg.encode().hex()
        else:
            return f"%!{verb}({_type(arg)}={to_text(arg, False)})"
        return text.upper() if verb == "X" else text
    if verb == "c" and isinstance(arg, int):
        return chr(arg)
    if verb in ("f", "F", "e", "g") and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        if verb == "g" and prec is None:
            return format_float(float(arg))
        spec = f"{'+' if '+' in flags else ''}.{6 if prec is None else prec}{verb.lower()}"
        text = format(float(arg), spec)
        return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
    return f"%!{verb}({_type(arg)}={to_text(arg, False)})"


def _type(arg: Any) -> str:
    if isinstance(arg, bool):
        return "bool"
    if isinstance(arg, int):
        return "int"
    if isinstance(arg, float):
        return "float64"
    if isinstance(arg, str):
        return "string"
    if arg is None:
        return "<nil>"
    return "interface {}"


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf: wrong or missing arguments print `%!verb(...)` as Go does."""
    out: list[str] = []
    pos = 0
    argi = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(args[argi]) if argi < len(args) else "0"
            argi += 1
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        text = _one(verb, flags, int(prec) if prec and prec != "*" else None, args[argi])
        argi += 1
        if width:
            size = int(width)
            if "-" in flags:
                text = text.ljust(size)
            elif "0" in flags and verb in "dfxXeg":
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign) :].rjust(size - len(sign), "0")
            else:
                text = text.rjust(size)
        out.append(text)
    out.append(fmt[pos:])
    if argi < len(args):
        extra = ", ".join(f"{_type(a)}={to_text(a, False)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
