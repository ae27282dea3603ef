"""HCL and JSON bake files as documents: blocks of attributes, not yet evaluated.

An HCL file is parsed by python-hcl2 (its lark tree: the expressions stay
trees for `builder.bake.expr`); a JSON file is read with `json`, its values
kept as they are (its strings are templates, as in HCL's JSON syntax).
Both become a `Document`: the top-level attributes and the blocks
(`variable`, `function`, `target`, `group`), each with where it was
written, so that every file of one bake invocation is evaluated together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from builder.bake.expr import child_trees, first_line, meaningful, unescape
from builder.errors import BakeFileError, Location

BLOCK_TYPES = ("variable", "function", "target", "group")


@dataclass
class Attribute:
    name: str
    expr: Any  #: a lark Tree (HCL) or a JSON value
    path: str
    line: int = 0


@dataclass
class Block:
    type: str
    label: str
    attrs: dict[str, Attribute]
    path: str
    line: int = 0


@dataclass
class Document:
    path: str
    attrs: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


def _label(node: Any, path: str) -> str:
    if isinstance(node, Tree) and node.data == "string":
        text = []
        for part in node.children:
            if isinstance(part, Tree) and part.data == "string_part":
                inner = part.children[0]
                if not isinstance(inner, Token):
                    raise BakeFileError(
                        "a block label cannot hold an interpolation",
                        Location(path, first_line(node)),
                    )
                text.append(unescape(str(inner)))
        return "".join(text)
    if isinstance(node, Tree):
        return str(node.children[0])
    return str(node)


def _attributes(body: Tree, path: str) -> tuple[dict[str, Attribute], list[Tree]]:
    attrs: dict[str, Attribute] = {}
    blocks: list[Tree] = []
    for item in child_trees(body):
        if item.data == "attribute":
            parts = meaningful(item)
            name = _label(parts[0], path)
            line = first_line(item)
            if name in attrs:
                raise BakeFileError(
                    f"Attribute redefined: {name!r} was already set on line {attrs[name].line}",
                    Location(path, line),
                )
            attrs[name] = Attribute(name, parts[-1], path, line)
        elif item.data == "block":
            blocks.append(item)
    return attrs, blocks


def parse_hcl(text: str, path: str) -> Document:
    """An HCL bake file's document; BakeFileError with the line for a syntax error."""
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as err:
        snippet = text.splitlines()[err.line - 1] if 0 < err.line <= len(text.splitlines()) else ""
        raise BakeFileError(
            "invalid HCL: unexpected input",
            Location(path, err.line, err.column, source_line=snippet),
        ) from None
    except LarkError as err:
        raise BakeFileError(f"invalid HCL: {err}", Location(path, 0)) from None
    body = child_trees(tree)[0]
    attrs, block_trees = _attributes(body, path)
    document = Document(path, attrs)
    for block in block_trees:
        parts = meaningful(block)
        kind = _label(parts[0], path)
        labels = [
            _label(p, path)
            for p in parts[1:]
            if isinstance(p, Tree) and p.data in ("string", "identifier")
        ]
        line = first_line(block)
        if kind not in BLOCK_TYPES:
            raise BakeFileError(
                f"Unsupported block type {kind!r}",
                Location(path, line),
                hint=f"a bake file holds {', '.join(BLOCK_TYPES)} blocks",
            )
        if len(labels) != 1:
            raise BakeFileError(f"invalid block label: {labels}", Location(path, line))
        inner_body = next(p for p in parts if isinstance(p, Tree) and p.data == "body")
        block_attrs, nested = _attributes(inner_body, path)
        if nested and kind != "variable":  # a variable's validation blocks are skipped
            raise BakeFileError(
                f"{kind} {labels[0]!r}: nested blocks are not supported",
                Location(path, first_line(nested[0])),
            )
        document.blocks.append(Block(kind, labels[0], block_attrs, path, line))
    return document


def parse_json(text: str, path: str) -> Document:
    """A JSON bake file's document (`{"variable": {...}, "group": {...}, "target": {...}}`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise BakeFileError(
            f"invalid JSON: {err.msg}", Location(path, err.lineno, err.colno)
        ) from None
    if not isinstance(data, dict):
        raise BakeFileError("a JSON bake file must hold an object", Location(path, 1))
    document = Document(path)
    for key, value in data.items():
        if key not in BLOCK_TYPES:
            document.attrs[key] = Attribute(key, value, path)
            continue
        if not isinstance(value, dict):
            raise BakeFileError(f"{key!r} must be an object of named blocks", Location(path, 0))
        for label, body in value.items():
            bodies = body if isinstance(body, list) else [body]
            for one in bodies:
                if not isinstance(one, dict):
                    raise BakeFileError(f"{key} {label!r} must be an object", Location(path, 0))
                attrs = {name: Attribute(name, v, path) for name, v in one.items()}
                document.blocks.append(Block(key, label, attrs, path))
    return document
