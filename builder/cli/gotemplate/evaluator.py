"""Run a parsed template over data, with text/template's semantics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from builder.cli.gotemplate import nodes as n
from builder.cli.gotemplate.errors import TemplateError
from builder.cli.gotemplate.values import Nil, to_text, truth

_MISSING = object()


@dataclass
class _State:
    funcs: dict[str, Callable[..., Any]]
    missing_key_error: bool
    out: list[str] = field(default_factory=list)
    vars: list[tuple[str, Any]] = field(default_factory=list)

    def lookup(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise TemplateError(f"template: undefined variable: {name}")

    def assign(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return


def _field(state: _State, receiver: Any, name: str) -> Any:
    if isinstance(receiver, dict):
        if name in receiver:
            return receiver[name]
        if state.missing_key_error:
            raise TemplateError(
                f'template: executing at <.{name}>: map has no entry for key "{name}"',
                hint="fields: " + ", ".join(str(k) for k in receiver),
            )
        return None
    if isinstance(receiver, Nil) and receiver.kind == "map":
        return None
    if receiver is None or isinstance(receiver, Nil):
        raise TemplateError(
            f"template: executing at <.{name}>: nil pointer evaluating interface {{}}.{name}"
        )
    raise TemplateError(
        f"template: executing at <.{name}>: can't evaluate field {name}"
        f" in type {type(receiver).__name__}"
    )


def _chain(state: _State, value: Any, names: list[str]) -> Any:
    for name in names:
        value = _field(state, value, name)
    return value


def _arg(state: _State, node: Any, dot: Any) -> Any:
    """The value of an operand used as an argument."""
    if isinstance(node, n.Dot):
        return dot
    if isinstance(node, n.Literal):
        return node.value
    if isinstance(node, n.Variable):
        return state.lookup(node.name)
    if isinstance(node, n.Field):
        base = dot if node.receiver is None else _arg(state, node.receiver, dot)
        return _chain(state, base, node.names)
    if isinstance(node, n.Pipeline):
        return _pipeline(state, node, dot)
    if isinstance(node, n.Identifier):
        return _call(state, node.name, [], dot, _MISSING)
    raise TemplateError(f"template: can't handle {node!r}")


def _call(state: _State, name: str, args: list[Any], dot: Any, final: Any) -> Any:
    if name in ("and", "or"):
        # Go 1.18+: evaluation stops at the first argument that decides
        operands = args + ([n.Literal(final)] if final is not _MISSING else [])
        if not operands:
            raise TemplateError(f"template: wrong number of args for {name}: want at least 1 got 0")
        value: Any = None
        for node in operands:
            value = _arg(state, node, dot)
            if truth(value) != (name == "and"):
                return value
        return value
    func = state.funcs.get(name)
    if func is None:
        raise TemplateError(f'template: function "{name}" not defined')
    values = [_arg(state, a, dot) for a in args]
    if final is not _MISSING:
        values.append(final)
    try:
        return func(*values)
    except TypeError as err:
        raise TemplateError(f"template: error calling {name}: {err}") from None


def _command(state: _State, cmd: n.Command, dot: Any, final: Any) -> Any:
    first = cmd.args[0]
    if isinstance(first, n.Identifier):
        return _call(state, first.name, cmd.args[1:], dot, final)
    if len(cmd.args) > 1 or final is not _MISSING:
        raise TemplateError(f"template: can't give argument to non-function {_describe(first)}")
    return _arg(state, first, dot)


def _describe(node: Any) -> str:
    if isinstance(node, n.Field):
        return "." + ".".join(node.names)
    if isinstance(node, n.Literal):
        return to_text(node.value, top=False)
    if isinstance(node, n.Dot):
        return "."
    return type(node).__name__


def _pipeline(state: _State, pipe: n.Pipeline, dot: Any) -> Any:
    value: Any = _MISSING
    for cmd in pipe.commands:
        value = _command(state, cmd, dot, value)
    for name in pipe.decl:
        if pipe.is_assign:
            state.assign(name, value)
        else:
            state.vars.append((name, value))
    return value


def _walk(state: _State, node: Any, dot: Any) -> None:
    if isinstance(node, n.List):
        for child in node.nodes:
            _walk(state, child, dot)
    elif isinstance(node, n.Text):
        state.out.append(node.text)
    elif isinstance(node, n.Action):
        value = _pipeline(state, node.pipe, dot)
        if not node.pipe.decl:
            state.out.append(to_text(value))
    elif isinstance(node, n.Branch):
        _branch(state, node, dot)


def _branch(state: _State, node: n.Branch, dot: Any) -> None:
    mark = len(state.vars)
    if node.keyword == "range":
        _range(state, node, dot)
    else:
        value = _pipeline(state, n.Pipeline([], node.pipe.commands), dot)
        if node.pipe.decl:
            state.vars.append((node.pipe.decl[0], value))
        if truth(value):
            _walk(state, node.body, value if node.keyword == "with" else dot)
        elif node.otherwise is not None:
            _walk(state, node.otherwise, dot)
    del state.vars[mark:]


def _range(state: _State, node: n.Branch, dot: Any) -> None:
    value = _pipeline(state, n.Pipeline([], node.pipe.commands), dot)
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [(i, i) for i in range(value)]
    elif value is None or isinstance(value, Nil):
        items = []
    else:
        raise TemplateError(f"template: range can't iterate over {to_text(value)}")
    if not items:
        if node.otherwise is not None:
            _walk(state, node.otherwise, dot)
        return
    decl = node.pipe.decl
    for key, item in items:
        mark = len(state.vars)
        if len(decl) == 1:
            state.vars.append((decl[0], item))
        elif len(decl) == 2:
            state.vars.extend([(decl[0], key), (decl[1], item)])
        _walk(state, node.body, item)
        del state.vars[mark:]


def execute(
    tree: n.List,
    data: Any,
    funcs: dict[str, Callable[..., Any]],
    missing_key_error: bool = True,
) -> str:
    """The text `tree` makes from `data` (`$` and `.` start as `data`)."""
    state = _State(funcs, missing_key_error, vars=[("$", data)])
    _walk(state, tree, data)
    return "".join(state.out)
