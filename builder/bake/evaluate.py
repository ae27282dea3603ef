"""Evaluate HCL/JSON documents into targets and groups, as buildx's HCL parser does.

All the HCL and JSON files of one invocation are evaluated together: a
variable defined in one file can be used in another, and blocks of the
same name merge in file order (a later attribute wins, maps merge).

Variables: a `variable` block's `default` (an expression that may use other
variables; a cycle is an error), overridden by the environment variable of
the same name, converted to the default's type or the declared `type`
(`bool`, `number`, `list(string)` as CSV, `NAME_JSON` as JSON for a typed
variable), as buildx does. A top-level attribute (`TAG = "v1"`) is a
variable the environment cannot override. `BAKE_LOCAL_PLATFORM` and
`BAKE_CMD_CONTEXT` are built in.

`function` blocks (`params`, `variadic_param`, `result`) are user functions.
A `target` with a `matrix` forks into one target per combination of the
matrix values (keys in the order written); its `name` expression names
each, and the original name becomes a group of them.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lark import Tree

from builder.bake.document import Attribute, Block, Document
from builder.bake.expr import (
    Missing,
    Scope,
    child_trees,
    evaluate,
    meaningful,
    template,
    to_bool,
    to_number,
    to_str,
    type_name,
)
from builder.bake.functions import STDLIB
from builder.bake.model import FIELD_BY_KEY, META_KEYS, Config, Group, Target, Variable
from builder.bake.specs import KIND_OF_KEY, entry
from builder.errors import BakeFileError, Location, UsageError

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")


def value_of(expr: Any, scope: Scope, line: int = 0) -> Any:
    """An attribute's value: an HCL tree, or a JSON value whose strings are templates."""
    if isinstance(expr, Tree):
        return evaluate(expr, scope)
    if isinstance(expr, str):
        return template(expr, scope)
    if isinstance(expr, list):
        return [value_of(v, scope, line) for v in expr]
    if isinstance(expr, dict):
        return {k: value_of(v, scope, line) for k, v in expr.items()}
    return expr


# --- variable types ---------------------------------------------------------------------

TypeSpec = str | tuple[str, Any]


def _type_of(expr: Any) -> TypeSpec | None:
    """A `type =` constraint: "string", ("list", "string"), ...; None when absent."""
    if expr is None:
        return None
    if not isinstance(expr, Tree):
        return str(expr) if isinstance(expr, str) else None
    node = expr
    while node.data == "expr_term" and child_trees(node) and len(meaningful(node)) == 1:
        node = child_trees(node)[0]
    if node.data == "identifier":
        return str(node.children[0])
    if node.data == "function_call":
        name = str(meaningful(node)[0].children[0])
        args = [c for c in meaningful(node) if isinstance(c, Tree) and c.data == "arguments"]
        inner = child_trees(args[0])[0] if args else None
        if name in ("list", "set", "map"):
            return (name, _type_of(inner))
        return (name, None)
    return None


def _convert(value: Any, spec: TypeSpec | None) -> Any:
    """`value` converted to a declared type, as cty converts (strings <-> numbers/bools)."""
    if spec is None or spec == "any" or value is None:
        return value
    if spec == "string":
        return to_str(value)
    if spec == "number":
        return to_number(value)
    if spec == "bool":
        return to_bool(value)
    if isinstance(spec, tuple) and spec[0] in ("list", "set") and isinstance(value, list):
        return [_convert(v, spec[1]) for v in value]
    if isinstance(spec, tuple) and spec[0] == "map" and isinstance(value, dict):
        return {k: _convert(v, spec[1]) for k, v in value.items()}
    return value


def _primitive(name: str, text: str, kind: str) -> Any:
    try:
        if kind == "bool":
            if text.lower() in ("1", "t", "true"):
                return True
            if text.lower() in ("0", "f", "false"):
                return False
            raise ValueError(f"{text!r} is not a bool")
        if kind == "number":
            return to_number(text)
    except ValueError as err:
        raise BakeFileError(f"failed to parse {name} as {kind}: {err}") from None
    return text


# --- the evaluation ---------------------------------------------------------------------


@dataclass
class _Variable:
    name: str
    default: Attribute | None
    type: TypeSpec | None
    overridable: bool  #: a `variable` block (not a top-level attribute)
    path: str
    line: int
    description: Attribute | None = None
    declared: bool = False  #: a `variable` block exists (`--list variables` shows it)


def type_text(spec: TypeSpec | None) -> str:
    """A type as buildx names it: `string`, `list of string`, `map of number`."""
    if spec is None:
        return ""
    if isinstance(spec, str):
        return spec
    inner = type_text(spec[1])
    return f"{spec[0]} of {inner}" if inner else spec[0]


def value_text(value: Any, spec: TypeSpec | None) -> str | None:
    """A variable's value as `--list variables` prints it (None: null)."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return to_str(value)


@dataclass
class Evaluation:
    """The variables, functions and blocks of every HCL/JSON file, evaluated on demand."""

    documents: list[Document]
    environ: Mapping[str, str]
    builtins: dict[str, str] = field(default_factory=dict)
    variables: dict[str, _Variable] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    resolving: list[str] = field(default_factory=list)
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.functions = dict(STDLIB)
        attrs: dict[str, Attribute] = {}
        for document in self.documents:
            attrs.update(document.attrs)  # a later file's attribute wins
            for block in document.blocks:
                if block.type == "variable":
                    self._declare(block)
                elif block.type == "function":
                    self.functions[block.label] = self._user_function(block)
        for name, attr in attrs.items():
            # a top-level attribute is the value; the environment overrides it only when a
            # `variable` block of that name exists too (buildx's rule)
            known = self.variables.get(name)
            self.variables[name] = _Variable(
                name, attr, None, known is not None, attr.path, attr.line,
                known.description if known else None, known is not None,
            )  # fmt: skip

    def _declare(self, block: Block) -> None:
        known = self.variables.get(block.label)
        default = block.attrs.get("default")
        kind = _type_of(block.attrs["type"].expr) if "type" in block.attrs else None
        if known is not None:  # a later block adds to the earlier one
            default = default or known.default
            kind = kind or known.type
        description = block.attrs.get("description") or (known.description if known else None)
        self.variables[block.label] = _Variable(
            block.label, default, kind, True, block.path, block.line, description, True
        )

    def scope(self, path: str, local: dict[str, Any] | None = None) -> Scope:
        return Scope(self.lookup, self.functions, path, dict(local or {}))

    def lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.builtins:
            return self.builtins[name]
        variable = self.variables.get(name)
        if variable is None:
            if name == "target":  # `target.NAME.ATTR`: another target's attribute
                return _Targets(self)
            raise Missing(name)
        if name in self.resolving:
            chain = " -> ".join([*self.resolving[self.resolving.index(name) :], name])
            raise BakeFileError(
                f"variable cycle not allowed: {chain}", Location(variable.path, variable.line)
            )
        self.resolving.append(name)
        try:
            value = self._resolve(variable)
        finally:
            self.resolving.pop()
        self.values[name] = value
        return value

    def _resolve(self, variable: _Variable) -> Any:
        name = variable.name
        default: Any = None
        if variable.default is not None:
            attr = variable.default
            default = value_of(attr.expr, self.scope(attr.path), attr.line)
            try:
                default = _convert(default, variable.type)
            except ValueError as err:
                raise BakeFileError(
                    f"invalid default of variable {name}: {err}", Location(attr.path, attr.line)
                ) from None
        if not variable.overridable:
            return default
        typed = variable.type is not None
        json_name = name + "_JSON"
        if typed and json_name not in self.variables and json_name in self.environ:
            try:
                return _convert(json.loads(self.environ[json_name]), variable.type)
            except (ValueError, TypeError) as err:
                raise BakeFileError(f"failed to convert variable {name} from JSON: {err}") from None
        if name not in self.environ:
            if variable.default is None and not typed:
                return ""
            return default
        text = self.environ[name]
        spec = variable.type
        if isinstance(spec, tuple) and spec[0] in ("list", "set"):
            items = next(csv.reader([text])) if text else []
            try:
                return [_convert(item.strip(), spec[1]) for item in items]
            except ValueError as err:
                raise BakeFileError(f"failed to convert variable {name} from CSV: {err}") from None
        if isinstance(spec, str) and spec in ("string", "number", "bool"):
            return _primitive(name, text, spec)
        if typed and spec != "any":
            raise BakeFileError(f"unsupported type for variable {name} set from the environment")
        if variable.default is None or default is None or isinstance(default, str):
            return text
        if isinstance(default, bool):
            return _primitive(name, text, "bool")
        if isinstance(default, int | float):
            return _primitive(name, text, "number")
        raise BakeFileError(
            f"unsupported type {type_name(default)} for variable {name}",
            hint="declare its type (type = list(string)) to set it from the environment",
        )

    def _user_function(self, block: Block) -> Callable[..., Any]:
        def names(attr: Attribute | None) -> list[str]:
            if attr is None:
                return []
            expr = attr.expr
            if isinstance(expr, list):
                return [str(x) for x in expr]
            if isinstance(expr, str):
                return [expr]
            found: list[str] = []
            for node in expr.iter_subtrees_topdown():
                if node.data == "identifier":
                    found.append(str(node.children[0]))
            return found

        params = names(block.attrs.get("params"))
        variadic = names(block.attrs.get("variadic_param"))
        result = block.attrs.get("result")
        if result is None:
            raise BakeFileError(
                f"function {block.label!r} has no result", Location(block.path, block.line)
            )

        def call(*args: Any) -> Any:
            if len(args) < len(params) or (len(args) > len(params) and not variadic):
                raise ValueError(f"expects {len(params)} arguments, got {len(args)}")
            local = dict(zip(params, args, strict=False))
            if variadic:
                local[variadic[0]] = list(args[len(params) :])
            return value_of(result.expr, self.scope(result.path, local), result.line)

        return call

    # --- blocks ---------------------------------------------------------------------

    def config(self) -> Config:
        config = Config()
        renamed: dict[str, list[str]] = {}
        for document in self.documents:
            for block in document.blocks:
                if block.type == "group":
                    config.add_group(self._group(block))
                elif block.type == "target":
                    for target in self._targets(block):
                        renamed.setdefault(block.label, []).append(target.name)
                        config.add_target(target)
        for old, new in renamed.items():
            names = list(dict.fromkeys(new))
            if names != [old]:
                config.add_group(Group(old, names))
        for name, variable in self.variables.items():  # each is evaluated, as buildx does
            value = self.lookup(name)
            if not variable.declared:
                continue
            about = variable.description
            text = to_str(value_of(about.expr, self.scope(about.path))) if about else ""
            config.variables.append(
                Variable(name, type_text(variable.type), value_text(value, variable.type), text)
            )
        return config

    def _group(self, block: Block) -> Group:
        scope = self.scope(block.path)
        group = Group(block.label)
        for name, attr in block.attrs.items():
            value = value_of(attr.expr, scope, attr.line)
            if name == "targets":
                group.targets = _strings(value, attr, "targets")
            elif name == "description":
                group.description = to_str(value)
            elif name in ("name", "matrix"):
                raise _error(attr, f"{name} is not supported for groups")
            else:
                raise _error(attr, f"Unsupported argument {name!r} in group {block.label!r}")
        return group

    def _matrix(self, block: Block) -> list[dict[str, Any]]:
        attr = block.attrs.get("matrix")
        if attr is None:
            if "name" in block.attrs:
                raise _error(block.attrs["name"], "name requires matrix")
            return [{}]
        matrix = value_of(attr.expr, self.scope(block.path), attr.line)
        if not isinstance(matrix, dict):
            raise _error(attr, "matrix must be a map")
        axes = []
        for key, values in matrix.items():
            if not isinstance(values, list):
                raise _error(attr, "matrix values must be a list")
            axes.append([(key, v) for v in values])
        return [dict(combo) for combo in itertools.product(*axes)]

    def _targets(self, block: Block) -> list[Target]:
        _check_name(block.label, block)
        out: list[Target] = []
        for combo in self._matrix(block):
            scope = self.scope(block.path, combo)
            name = block.label
            if "name" in block.attrs:
                attr = block.attrs["name"]
                name = to_str(value_of(attr.expr, scope, attr.line), "name")
                _check_name(name, block)
            if any(t.name == name for t in out):
                raise BakeFileError(
                    f"target {block.label!r}: the matrix gives the name {name!r} twice",
                    Location(block.path, block.line),
                    hint="make `name` use every matrix value",
                )
            target = Target(name)
            for key, attr in block.attrs.items():
                if key in META_KEYS:
                    continue
                spec = FIELD_BY_KEY.get(key)
                if spec is None:
                    raise _error(attr, f"Unsupported argument {key!r} in target {block.label!r}")
                value = value_of(attr.expr, scope, attr.line)
                if value is None:
                    continue
                try:
                    target.set(key, decode(key, value))
                except (ValueError, UsageError) as err:
                    message = err.message if isinstance(err, UsageError) else str(err)
                    raise _error(attr, f"{key}: {message}") from None
            out.append(target)
        return out


class _Targets(dict[str, Any]):
    """`target` in an expression: each target block's attributes, evaluated when read."""

    def __init__(self, evaluation: Evaluation) -> None:
        super().__init__()
        self.evaluation = evaluation

    def _blocks(self, name: str) -> list[Block]:
        return [
            b
            for d in self.evaluation.documents
            for b in d.blocks
            if b.type == "target" and b.label == name and "matrix" not in b.attrs
        ]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._blocks(name))

    def __getitem__(self, name: str) -> Any:
        return _TargetAttrs(self.evaluation, self._blocks(name))


class _TargetAttrs(dict[str, Any]):
    """One target's attributes for `target.NAME.ATTR` (the last block setting ATTR wins)."""

    def __init__(self, evaluation: Evaluation, blocks: list[Block]) -> None:
        super().__init__()
        self.evaluation = evaluation
        self.blocks = blocks

    def __contains__(self, key: object) -> bool:
        return any(key in b.attrs for b in self.blocks)

    def __getitem__(self, key: str) -> Any:
        block = next(b for b in reversed(self.blocks) if key in b.attrs)
        attr = block.attrs[key]
        marker = f"target.{block.label}.{key}"
        if marker in self.evaluation.resolving:
            raise _error(attr, f"cycle through {marker}")
        self.evaluation.resolving.append(marker)
        try:
            value = value_of(attr.expr, self.evaluation.scope(block.path), attr.line)
        finally:
            self.evaluation.resolving.pop()
        return decode(key, value) if key in FIELD_BY_KEY else value


def decode(key: str, value: Any) -> Any:
    """A target attribute's value in the model's type (ValueError when it cannot be)."""
    spec = FIELD_BY_KEY[key]
    if spec.kind == "str":
        return to_str(value)
    if spec.kind == "bool":
        return to_bool(value)
    if spec.kind == "list":
        items = value if isinstance(value, list) else [value]
        return [to_str(v) for v in items if v is not None]
    if spec.kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"expected a map, got {type_name(value)}")
        return {k: (None if v is None else to_str(v)) for k, v in value.items()}
    items = value if isinstance(value, list) else [value]
    return [entry(KIND_OF_KEY[key], v, key) for v in items if v is not None]


def _strings(value: Any, attr: Attribute, what: str) -> list[str]:
    if not isinstance(value, list):
        raise _error(attr, f"{what} must be a list of strings")
    try:
        return [to_str(v) for v in value]
    except ValueError as err:
        raise _error(attr, f"{what}: {err}") from None


def _check_name(name: str, block: Block) -> None:
    if not NAME_PATTERN.match(name):
        raise BakeFileError(
            f"invalid target name {name!r}: only [a-zA-Z0-9_-]+ are allowed",
            Location(block.path, block.line),
        )


def _error(attr: Attribute, message: str) -> BakeFileError:
    return BakeFileError(message, Location(attr.path, attr.line))


def evaluate_documents(
    documents: list[Document], environ: Mapping[str, str], builtins: dict[str, str]
) -> Config:
    """The targets and groups of `documents`, evaluated together."""
    return Evaluation(documents, environ, builtins).config()
