"""The part of Go's text/template that `docker ... --format` users type.

Supported actions: `{{.}}`, `{{.Field.Sub}}`, `{{json .Field}}`,
`{{index .Map "key"}}`, `{{lower ...}}`/`{{upper ...}}`, and `\\t`/`\\n` in
the text. Anything else is a usage error that says what is supported,
never a silent wrong answer.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from builder.errors import UsageError

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_SUPPORTED = '{{.Field}}, {{.A.B}}, {{json .X}}, {{index .Map "key"}}, {{lower .X}}, {{upper .X}}'


def _lookup(data: Any, path: str, template: str) -> Any:
    if path == ".":
        return data
    value = data
    for part in path.lstrip(".").split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, dict):
            raise UsageError(
                f"template {template!r}: can't evaluate field {part}",
                hint="fields: " + ", ".join(sorted(str(k) for k in value)),
            )
        else:
            raise UsageError(f"template {template!r}: can't evaluate field {part} of a non-object")
    return value


def _text(value: Any) -> str:
    """Go's default printing: maps as map[k:v], lists as [a b], nil as <no value>."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    return str(value)


def _evaluate(action: str, data: Any, template: str) -> str:
    try:
        words = shlex.split(action)
    except ValueError:
        raise UsageError(f"template {template!r}: cannot read action {{{{{action}}}}}") from None
    if len(words) == 1 and words[0].startswith("."):
        return _text(_lookup(data, words[0], template))
    if len(words) == 2 and words[0] == "json" and words[1].startswith("."):
        return json.dumps(_lookup(data, words[1], template), ensure_ascii=False)
    if len(words) == 2 and words[0] in ("lower", "upper") and words[1].startswith("."):
        text = _text(_lookup(data, words[1], template))
        return text.lower() if words[0] == "lower" else text.upper()
    if len(words) == 3 and words[0] == "index" and words[1].startswith("."):
        container = _lookup(data, words[1], template)
        if isinstance(container, dict):
            return _text(container.get(words[2]))
        if isinstance(container, list) and words[2].isdigit() and int(words[2]) < len(container):
            return _text(container[int(words[2])])
        return "<no value>"
    raise UsageError(
        f"template {template!r}: unsupported action {{{{{action}}}}}",
        hint=f"supported: {_SUPPORTED}",
    )


def render_template(template: str, data: Any) -> str:
    """Fill `template` with `data` (a JSON-like object)."""
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    out: list[str] = []
    pos = 0
    for m in _ACTION.finditer(text):
        out.append(text[pos : m.start()])
        out.append(_evaluate(m.group(1), data, template))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)
