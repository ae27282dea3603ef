"""Go's text/template, as Docker's CLI uses it for `--format` and `inspect -f`.

`render` runs one template over one value; `render_rows` is the list
commands' `--format` (with `table` headers, aligned as Docker aligns them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from builder.cli.gotemplate.errors import TemplateError
from builder.cli.gotemplate.evaluator import execute
from builder.cli.gotemplate.functions import FUNCTIONS, HEADER_FUNCTIONS
from builder.cli.gotemplate.parser import parse
from builder.cli.gotemplate.tabwriter import tabulate
from builder.cli.gotemplate.values import (
    NIL_MAP,
    NIL_POINTER,
    NIL_SLICE,
    GoStruct,
    GoTime,
    Nil,
    plain,
    to_json,
)

__all__ = [
    "NIL_MAP",
    "NIL_POINTER",
    "NIL_SLICE",
    "GoStruct",
    "GoTime",
    "Nil",
    "TemplateError",
    "plain",
    "render",
    "render_rows",
    "tabulate",
    "to_json",
]


def render(template: str, data: Any, *, missing_key_error: bool = True) -> str:
    """The text of Go template `template` over `data` (JSON-like, typed nils allowed).

    A missing map key is an error, as in Docker's inspect (missingkey=error);
    pass `missing_key_error=False` for Go's default `<no value>`.
    """
    try:
        return execute(parse(template), data, FUNCTIONS, missing_key_error)
    except RecursionError:
        raise TemplateError("template: too deeply nested") from None


def render_rows(template: str, rows: Sequence[Any], headers: Mapping[str, str]) -> str:
    """A list command's `--format`: one line per row; `table ...` adds headers and aligns.

    `\\t` and `\\n` typed as two characters become tab and newline, as Docker does.
    """
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    table = text.startswith("table")
    if table:
        text = text[len("table") :].strip(" ")
    tree = parse(text)
    body = "".join(execute(tree, row, FUNCTIONS, True) + "\n" for row in rows)
    if not table:
        return body
    header = execute(tree, dict(headers), HEADER_FUNCTIONS, False)
    return tabulate(header + "\n" + body)
