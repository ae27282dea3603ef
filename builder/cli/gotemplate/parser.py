"""Tokens to a syntax tree, with text/template's grammar and errors."""

from __future__ import annotations

from typing import Any

from builder.cli.gotemplate import nodes as n
from builder.cli.gotemplate.errors import TemplateError
from builder.cli.gotemplate.lexer import Kind, Token, tokenize

_KEYWORDS = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.vars: list[str] = ["$"]

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok: Token, message: str) -> TemplateError:
        return TemplateError(f"template: :{tok.pos}: {message}")

    def expect(self, kind: Kind, context: str) -> Token:
        tok = self.next()
        if tok.kind is not kind:
            raise self.fail(tok, f"unexpected {tok.value or 'EOF'!r} in {context}")
        return tok

    def parse_list(self, enders: tuple[str, ...]) -> tuple[n.List, str]:
        """Nodes up to one of `enders` (`end`, `else`); returns the ender met."""
        out = n.List()
        while True:
            tok = self.next()
            if tok.kind is Kind.EOF:
                if enders:
                    raise self.fail(tok, "unexpected EOF")
                return out, ""
            if tok.kind is Kind.TEXT:
                out.nodes.append(n.Text(tok.value))
                continue
            word = self.peek()
            if word.kind is Kind.IDENT and word.value in _KEYWORDS:
                self.next()
                if word.value in ("end", "else"):
                    if word.value not in enders:
                        raise self.fail(word, f"unexpected {{{{{word.value}}}}}")
                    if word.value == "end":
                        self.expect(Kind.RIGHT, "end")
                    return out, word.value
                if word.value in ("if", "with", "range"):
                    out.nodes.append(self.parse_branch(word.value))
                    continue
                raise self.fail(word, f"{{{{{word.value}}}}} is not supported")
            pipe = self.parse_pipeline("command")
            out.nodes.append(n.Action(pipe))

    def parse_branch(self, keyword: str) -> n.Branch:
        saved = len(self.vars)
        pipe = self.parse_pipeline(keyword)
        body, ender = self.parse_list(("end", "else"))
        otherwise = None
        if ender == "else":
            nxt = self.peek()
            if nxt.kind is Kind.IDENT and nxt.value in ("if", "with") and keyword != "range":
                # `{{else if ...}}` nests an if inside the else, sharing the `end`
                self.next()
                otherwise = n.List([self.parse_branch(nxt.value)])
            else:
                self.expect(Kind.RIGHT, "else")
                otherwise, _ = self.parse_list(("end",))
        del self.vars[saved:]
        return n.Branch(keyword, pipe, body, otherwise)

    def parse_pipeline(self, context: str) -> n.Pipeline:
        start = self.peek()
        decl: list[str] = []
        is_assign = False
        # `$x :=`, `$x =`, `$i, $v :=`
        if start.kind is Kind.VARIABLE:
            if self.peek(1).kind in (Kind.DECLARE, Kind.ASSIGN):
                decl = [start.value]
                is_assign = self.peek(1).kind is Kind.ASSIGN
                self.i += 2
            elif self.peek(1).kind is Kind.COMMA and context == "range":
                if self.peek(2).kind is Kind.VARIABLE and self.peek(3).kind is Kind.DECLARE:
                    decl = [start.value, self.peek(2).value]
                    self.i += 4
                else:
                    raise self.fail(start, "range can only initialize variables")
        for name in decl:
            if is_assign and name not in self.vars:
                raise self.fail(start, f"undefined variable {name!r}")
            if not is_assign:
                self.vars.append(name)
        commands: list[n.Command] = []
        end_kind = Kind.RPAREN if context == "parenthesized pipeline" else Kind.RIGHT
        while True:
            tok = self.peek()
            if tok.kind is end_kind:
                self.next()
                break
            commands.append(self.parse_command(end_kind))
            if self.peek().kind is Kind.PIPE:
                self.next()
                if self.peek().kind is end_kind:
                    raise self.fail(self.peek(), f"missing command after '|' in {context}")
        if not commands:
            raise self.fail(start, f"missing value for {context}")
        return n.Pipeline(decl, commands, is_assign, start.pos)

    def parse_command(self, end_kind: Kind) -> n.Command:
        args: list[Any] = []
        while self.peek().kind not in (end_kind, Kind.PIPE):
            tok = self.peek()
            if tok.kind in (Kind.EOF, Kind.RIGHT, Kind.RPAREN):
                raise self.fail(tok, f"unexpected {tok.value or 'EOF'!r} in operand")
            args.append(self.parse_operand())
        if not args:
            raise self.fail(self.peek(), "empty command")
        return n.Command(args)

    def parse_operand(self) -> Any:
        tok = self.next()
        node: Any
        if tok.kind is Kind.FIELD:
            names = [tok.value]
            while self._chained(tok):
                tok = self.next()
                names.append(tok.value)
            return n.Field(None, names)
        if tok.kind is Kind.DOT:
            node = n.Dot()
        elif tok.kind is Kind.VARIABLE:
            if tok.value not in self.vars:
                raise self.fail(tok, f"undefined variable {tok.value!r}")
            node = n.Variable(tok.value)
        elif tok.kind is Kind.STRING:
            node = n.Literal(tok.value)
        elif tok.kind is Kind.CHAR:
            node = n.Literal(ord(tok.value) if tok.value else 0)
        elif tok.kind is Kind.NUMBER:
            node = n.Literal(_number(tok))
        elif tok.kind is Kind.LPAREN:
            node = self.parse_pipeline("parenthesized pipeline")
            tok = self.tokens[self.i - 1]
        elif tok.kind is Kind.IDENT:
            if tok.value in ("true", "false"):
                node = n.Literal(tok.value == "true")
            elif tok.value == "nil":
                node = n.Literal(None)
            else:
                node = n.Identifier(tok.value)
        else:
            raise self.fail(tok, f"unexpected {tok.value!r} in operand")
        if self._chained(tok):
            names = []
            while self._chained(tok):
                tok = self.next()
                names.append(tok.value)
            return n.Field(node, names)
        return node

    def _chained(self, tok: Token) -> bool:
        """Whether a field follows `tok` with no space between (`$x.A`, `(...).B`)."""
        nxt = self.peek()
        return nxt.kind is Kind.FIELD and tok.end == nxt.pos


def _number(tok: Token) -> int | float:
    text = tok.value.replace("_", "")
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise TemplateError(f"template: :{tok.pos}: bad number syntax: {tok.value!r}") from None


def parse(src: str) -> n.List:
    """The syntax tree of a template source."""
    tree, _ = _Parser(tokenize(src)).parse_list(())
    return tree
