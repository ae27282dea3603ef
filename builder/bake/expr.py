"""HCL expressions, evaluated: python-hcl2's parse tree in, Python values out.

python-hcl2 (pinned to its 8.x grammar) parses the file; this module walks
the raw lark tree of an expression, as HCL evaluates it: literals, strings
with `${}` interpolation (a string that is one interpolation keeps the
value's type), tuples and objects, variables, `.attr`, `[index]` and `.*`
splats, unary and binary operators, `cond ? a : b`, `for` expressions and
function calls (`builder.bake.functions`, and the file's own `function`
blocks). Template directives (`%{if}`, `%{for}`) are not supported.

Values are Python's: str, int/float, bool, None, list, dict. A JSON bake
file's strings are templates too: `template(text)` scans them for `${}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lark import Token, Tree

from builder.errors import BakeFileError, Location

Lookup = Callable[[str], Any]


class Missing(Exception):
    """A variable the scope does not hold."""


@dataclass
class Scope:
    """What names mean while evaluating: local names, then `lookup` (variables)."""

    lookup: Lookup
    functions: dict[str, Callable[..., Any]]
    path: str
    local: dict[str, Any] = field(default_factory=dict)

    def child(self, names: dict[str, Any]) -> Scope:
        return Scope(self.lookup, self.functions, self.path, {**self.local, **names})

    def get(self, name: str) -> Any:
        if name in self.local:
            return self.local[name]
        return self.lookup(name)


def first_line(node: Any) -> int:
    """The line of the first token under `node` (0: unknown)."""
    if isinstance(node, Token):
        return node.line or 0
    if isinstance(node, Tree):
        for child in node.children:
            line = first_line(child)
            if line:
                return line
    return 0


def first_token(node: Any) -> Token | None:
    """The first token under `node`, for its line and column."""
    if isinstance(node, Token):
        return node
    if isinstance(node, Tree):
        for child in node.children:
            token = first_token(child)
            if token is not None:
                return token
    return None


def fail(scope: Scope, node: Any, message: str) -> BakeFileError:
    token = first_token(node)
    if token is None or not token.line:
        return BakeFileError(message, Location(scope.path, 0))
    return BakeFileError(message, Location(scope.path, token.line, token.column or 0))


def meaningful(node: Tree) -> list[Any]:
    """The children that mean something: no newlines or comments."""
    return [
        c for c in node.children if not (isinstance(c, Tree) and c.data == "new_line_or_comment")
    ]


def child_trees(node: Tree) -> list[Tree]:
    return [c for c in meaningful(node) if isinstance(c, Tree)]


# --- conversions ----------------------------------------------------------------------


def number_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_str(value: Any, what: str = "value") -> str:
    """A value as HCL converts it to a string; lists, maps and null cannot be."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise ValueError(f"{what} is null")
    raise ValueError(f"{what} must be a string, not {type_name(value)}")


def to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a bool cannot be a number")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a number") from None
    raise ValueError(f"a number is required, not {type_name(value)}")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError(f"a bool is required, not {value!r}")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "tuple"
    return "object"


def _num(value: float) -> int | float:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# --- strings --------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")


def unescape(text: str) -> str:
    """A quoted string's characters: `\\n`, `\\"`, `\\uNNNN`...; `$${`/`%%{` stay literal."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE.sub(one, text).replace("$${", "${").replace("%%{", "%{")


def _join(pieces: list[Any], scope: Scope, node: Any) -> Any:
    """A template's value: one interpolation alone keeps its type; else a string."""
    if len(pieces) == 1 and isinstance(pieces[0], _Value):
        return pieces[0].value
    out = []
    for piece in pieces:
        value = piece.value if isinstance(piece, _Value) else piece
        try:
            out.append(to_str(value, "an interpolated value"))
        except ValueError as err:
            raise fail(scope, node, f"cannot interpolate: {err}") from None
    return "".join(out)


@dataclass
class _Value:
    value: Any


def _string(node: Tree, scope: Scope) -> Any:
    pieces: list[Any] = []
    for part in node.children:
        if not (isinstance(part, Tree) and part.data == "string_part"):
            continue
        inner = part.children[0]
        if isinstance(inner, Token):
            if inner.type in ("STRING_CHARS", "ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"):
                pieces.append(unescape(str(inner)))
            continue
        if inner.data == "interpolation":
            pieces.append(_Value(evaluate(child_trees(inner)[0], scope)))
        else:
            raise fail(scope, part, "template directives (%{if}, %{for}) are not supported")
    if not pieces:
        return ""
    return _join(pieces, scope, node)


def _close(text: str, start: int) -> int:
    """The index of the `}` closing the interpolation that starts at `start` (after `${`)."""
    depth, index, quote = 1, start, False
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == '"':
                quote = False
        elif char == '"':
            quote = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


@lru_cache(maxsize=512)
def parse_expression(text: str) -> Tree:
    """One expression's parse tree (for JSON strings and heredocs)."""
    import hcl2

    tree = hcl2.parses_to_tree(f"__expr = {text}\n")
    body = child_trees(tree)[0]
    attribute = child_trees(body)[0]
    return child_trees(attribute)[-1]


def template(text: str, scope: Scope, node: Any = None) -> Any:
    """Evaluate a template given as text (`${expr}` parts; `$${` is a literal `${`)."""
    if "${" not in text and "%{" not in text:
        return text
    pieces: list[Any] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$${", index) or text.startswith("%%{", index):
            literal.append(text[index + 1 : index + 3])
            index += 3
        elif text.startswith("${", index):
            end = _close(text, index + 2)
            if end < 0:
                raise fail(scope, node, f"unterminated ${{ in {text!r}")
            if literal:
                pieces.append("".join(literal))
                literal = []
            try:
                tree = parse_expression(text[index + 2 : end])
            except Exception as err:  # lark's errors: a message with the position
                raise fail(scope, node, f"invalid expression in {text!r}: {err}") from None
            try:
                pieces.append(_Value(evaluate(tree, scope)))
            except BakeFileError as err:  # its line is the snippet's: say the string's
                raise fail(scope, node, err.message) from None
            index = end + 1
        elif text.startswith("%{", index):
            raise fail(scope, node, "template directives (%{if}, %{for}) are not supported")
        else:
            literal.append(text[index])
            index += 1
    if literal:
        pieces.append("".join(literal))
    return _join(pieces, scope, node)


def _heredoc(token: Token, scope: Scope) -> Any:
    text = str(token)
    first, _, rest = text.partition("\n")
    marker = first.lstrip("<-")
    lines = rest.split("\n")
    while lines and lines[-1].strip() in ("", marker):
        if lines[-1].strip() == marker:
            lines.pop()
            break
        lines.pop()
    if first.startswith("<<-"):
        indents = [len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()]
        cut = min(indents, default=0)
        lines = [x[cut:] for x in lines]
    body = "\n".join(lines) + "\n" if lines else ""
    return template(body, scope, token)


# --- expressions ----------------------------------------------------------------------


def evaluate(node: Any, scope: Scope) -> Any:
    """The value of an expression node (a lark Tree) in `scope`."""
    if isinstance(node, Token):
        return _token(node, scope)
    kind = node.data
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise fail(scope, node, f"unsupported HCL expression: {kind}")
    try:
        return handler(node, scope)
    except BakeFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError) as err:
        raise fail(scope, node, f"cannot evaluate expression: {err}") from None


def _token(token: Token, scope: Scope) -> Any:
    if token.type in ("HEREDOC_TEMPLATE", "HEREDOC_TEMPLATE_TRIM"):
        return _heredoc(token, scope)
    raise fail(scope, token, f"unexpected {token!s}")


def _expr_term(node: Tree, scope: Scope) -> Any:
    parts = meaningful(node)
    if len(parts) == 3 and isinstance(parts[0], Token) and parts[0] == "(":
        return evaluate(parts[1], scope)
    return evaluate(parts[0], scope)


def _literal(node: Tree, scope: Scope) -> Any:
    text = str(node.children[0])
    return {"true": True, "false": False, "null": None}[text]


def _identifier(node: Tree, scope: Scope) -> Any:
    name = str(node.children[0])
    try:
        return scope.get(name)
    except Missing:
        raise fail(scope, node, f"Unknown variable; There is no variable named {name!r}") from None


def _tuple(node: Tree, scope: Scope) -> list[Any]:
    return [evaluate(c, scope) for c in child_trees(node)]


def _object(node: Tree, scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for elem in child_trees(node):
        key_node, value_node = child_trees(elem)[0], child_trees(elem)[-1]
        key_expr = child_trees(key_node)[0] if child_trees(key_node) else key_node.children[0]
        if isinstance(key_expr, Tree) and key_expr.data == "expr_term":
            inner = meaningful(key_expr)[0]
            if isinstance(inner, Tree) and inner.data in ("identifier", "literal_value"):
                key = str(inner.children[0])  # a bare name (`null` too) is the key itself
            else:
                key = to_str(evaluate(key_expr, scope), "an object key")
        elif isinstance(key_expr, Tree) and key_expr.data in ("identifier", "keyword"):
            key = str(key_expr.children[0])
        elif isinstance(key_expr, Token):
            key = str(key_expr)
        else:
            key = to_str(evaluate(key_expr, scope), "an object key")
        out[key] = evaluate(value_node, scope)
    return out


def _int(node: Tree, scope: Scope) -> int:
    return int(str(node.children[0]))


def _float(node: Tree, scope: Scope) -> int | float:
    return _num(float(str(node.children[0])))


def _attr_name(node: Tree) -> str:
    return str(child_trees(node)[0].children[0])


def _get_attr(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"cannot read .{name} of a {type_name(value)}")
    if name not in value:
        raise ValueError(f"no attribute {name!r}")
    return value[name]


def _index(value: Any, key: Any) -> Any:
    if isinstance(value, list):
        return value[int(to_number(key))]
    if isinstance(value, dict):
        return value[to_str(key, "a key")]
    raise ValueError(f"cannot index a {type_name(value)}")


def _get_attr_term(node: Tree, scope: Scope) -> Any:
    base, attr = child_trees(node)
    return _get_attr(evaluate(base, scope), _attr_name(attr))


def _index_term(node: Tree, scope: Scope) -> Any:
    base, index = child_trees(node)
    value = evaluate(base, scope)
    if index.data == "short_index":
        return _index(value, int(str(index.children[-1])))
    return _index(value, evaluate(child_trees(index)[0], scope))


def _splat(node: Tree, scope: Scope) -> Any:
    base, splat = child_trees(node)
    value = evaluate(base, scope)
    items = value if isinstance(value, list) else ([] if value is None else [value])
    out = []
    for item in items:
        for step in child_trees(splat):
            if step.data == "get_attr":
                item = _get_attr(item, _attr_name(step))
            elif step.data == "short_index":
                item = _index(item, int(str(step.children[-1])))
            else:
                item = _index(item, evaluate(child_trees(step)[0], scope))
        out.append(item)
    return out


def _unary(node: Tree, scope: Scope) -> Any:
    op, operand = meaningful(node)
    value = evaluate(operand, scope)
    if str(op) == "!":
        return not to_bool(value)
    return _num(-to_number(value))


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return equal(left, right)
    if op == "!=":
        return not equal(left, right)
    if op == "&&":
        return to_bool(left) and to_bool(right)
    if op == "||":
        return to_bool(left) or to_bool(right)
    a, b = to_number(left), to_number(right)
    if op == "+":
        return _num(a + b)
    if op == "-":
        return _num(a - b)
    if op == "*":
        return _num(a * b)
    if op == "/":
        return _num(a / b)
    if op == "%":
        return _num(a % b)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _binary(node: Tree, scope: Scope) -> Any:
    left_node, term = child_trees(node)[:2]
    operator = child_trees(term)[0]
    right_node = child_trees(term)[-1]
    op = str(operator.children[0])
    left = evaluate(left_node, scope)
    if op == "&&" and not to_bool(left):
        return False
    if op == "||" and to_bool(left):
        return True
    return binary(op, left, evaluate(right_node, scope))


def _conditional(node: Tree, scope: Scope) -> Any:
    cond, yes, no = child_trees(node)
    return evaluate(yes, scope) if to_bool(evaluate(cond, scope)) else evaluate(no, scope)


def _function_call(node: Tree, scope: Scope) -> Any:
    parts = meaningful(node)
    name = str(parts[0].children[0])
    function = scope.functions.get(name)
    if function is None:
        raise fail(scope, node, f"There is no function named {name!r}")
    args: list[Any] = []
    expand = False
    for child in parts:
        if isinstance(child, Tree) and child.data == "arguments":
            args = [evaluate(a, scope) for a in child_trees(child)]
            expand = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in child.children)
    if expand:
        if not isinstance(args[-1], list):
            raise fail(scope, node, f"{name}(...): the expanded argument must be a list")
        args = args[:-1] + args[-1]
    try:
        return function(*args)
    except BakeFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, re.error) as err:
        raise fail(scope, node, f"{name}(): {err}") from None


def _for_items(intro: Tree, scope: Scope) -> tuple[list[str], list[tuple[Any, Any]]]:
    names = [str(t.children[0]) for t in child_trees(intro) if t.data == "identifier"]
    collection = evaluate(child_trees(intro)[-1], scope)
    if isinstance(collection, dict):
        items = list(collection.items())
    elif isinstance(collection, list):
        items = list(enumerate(collection))
    else:
        raise ValueError(f"cannot iterate over a {type_name(collection)}")
    return names, items


def _bind(names: list[str], key: Any, value: Any) -> dict[str, Any]:
    return {names[0]: key, names[1]: value} if len(names) == 2 else {names[0]: value}


def _for_tuple(node: Tree, scope: Scope) -> list[Any]:
    subtrees = child_trees(node)
    intro, body = subtrees[0], subtrees[1]
    cond = subtrees[2] if len(subtrees) > 2 else None
    names, items = _for_items(intro, scope)
    out = []
    for key, value in items:
        inner = scope.child(_bind(names, key, value))
        if cond is not None and not to_bool(evaluate(child_trees(cond)[0], inner)):
            continue
        out.append(evaluate(body, inner))
    return out


def _for_object(node: Tree, scope: Scope) -> dict[str, Any]:
    subtrees = child_trees(node)
    intro, key_node, value_node = subtrees[0], subtrees[1], subtrees[2]
    cond = subtrees[3] if len(subtrees) > 3 else None
    group = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in node.children)
    names, items = _for_items(intro, scope)
    out: dict[str, Any] = {}
    for key, value in items:
        inner = scope.child(_bind(names, key, value))
        if cond is not None and not to_bool(evaluate(child_trees(cond)[0], inner)):
            continue
        name = to_str(evaluate(key_node, inner), "a key")
        if group:
            out.setdefault(name, []).append(evaluate(value_node, inner))
        else:
            out[name] = evaluate(value_node, inner)
    return out


def _template_string(node: Tree, scope: Scope) -> Any:
    text = str(node.children[0])
    return unescape(text[2:-2])


def _heredoc_tree(node: Tree, scope: Scope) -> Any:
    token = node.children[0]
    assert isinstance(token, Token)
    return _heredoc(token, scope)


_HANDLERS: dict[str, Callable[[Tree, Scope], Any]] = {
    "expr_term": _expr_term,
    "literal_value": _literal,
    "identifier": _identifier,
    "string": _string,
    "tuple": _tuple,
    "object": _object,
    "int_lit": _int,
    "float_lit": _float,
    "get_attr_expr_term": _get_attr_term,
    "index_expr_term": _index_term,
    "attr_splat_expr_term": _splat,
    "full_splat_expr_term": _splat,
    "unary_op": _unary,
    "binary_op": _binary,
    "conditional": _conditional,
    "function_call": _function_call,
    "for_tuple_expr": _for_tuple,
    "for_object_expr": _for_object,
    "template_string": _template_string,
    "heredoc_template": _heredoc_tree,
    "heredoc_template_trim": _heredoc_tree,
}
