"""Parse Dockerfile source into `builder.dockerfile.ast.Dockerfile`.

Three pieces, in order:

1. `grammar/dockerfile.lark`, an LALR grammar over physical lines, run with
   lark's contextual lexer; the parser tables are built once and cached on
   disk (see `_grammar_parser`).
2. `_HeredocPostLexer`, which sits between lexer and parser: when an
   instruction that opens heredocs ends, it inserts `HEREDOC_START` so the
   contextual lexer reads the following lines as body lines, and it marks
   each delimiter line as `HEREDOC_END`.
3. `_build`, which walks the tree, joins continuation lines the way BuildKit
   does, and splits each logical line with `builder.dockerfile.line_parsers`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import lark
from lark import Token, Tree
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken

from builder.dockerfile.ast import (
    HEREDOC_KEYWORDS,
    Comment,
    Directive,
    Dockerfile,
    Heredoc,
    Instruction,
    ParseWarning,
)
from builder.dockerfile.line_parsers import LineSyntaxError, SplitLine, split_line
from builder.dockerfile.text import go_trim_left_space
from builder.errors import Location, ParseError

_DIRECTIVE_RE = re.compile(
    r"[ \t\f\v\r]*#[ \t\f\v\r]*([a-zA-Z][a-zA-Z0-9]*)[ \t\f\v\r]*=[ \t\f\v\r]*(.+?)\s*$"
)
_HEREDOC_WORD_RE = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_VALID_DIRECTIVES = ("syntax", "escape", "check")


# ---------------------------------------------------------------------------
# The grammar


def _grammar_text() -> str:
    source_tree = Path(__file__).resolve().parents[2] / "grammar" / "dockerfile.lark"
    if source_tree.is_file():
        return source_tree.read_text(encoding="utf-8")
    return resources.files("builder._grammar").joinpath("dockerfile.lark").read_text("utf-8")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybuild"


@lru_cache(maxsize=1)
def _grammar_parser() -> lark.Lark:
    """The LALR parser, built once per process; its tables are cached on disk."""
    text = _grammar_text()
    digest = hashlib.sha256(f"{lark.__version__}\n{text}".encode()).hexdigest()[:16]
    options = {
        "parser": "lalr",
        "lexer": "contextual",
        "postlex": _HeredocPostLexer(),
        "propagate_positions": False,
        "maybe_placeholders": False,
    }
    cache_file = _cache_dir() / f"dockerfile-grammar-{digest}.cache"
    if cache_file.is_file():
        # lark rebuilds the tables itself if the file is unreadable
        return lark.Lark(text, cache=str(cache_file), **options)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        parser = lark.Lark(text, cache=str(partial), **options)
        os.replace(partial, cache_file)  # readers never see a half-written file
        return parser
    except OSError:  # read-only cache dir: build the tables in memory
        return lark.Lark(text, **options)


# ---------------------------------------------------------------------------
# Logical lines


def _line(tok: Token) -> int:
    """A token's 1-based line (lark types it as optional; our lexer always sets it)."""
    return tok.line or 0


def _strip_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _drop_continuation(line: str) -> str:
    """A continuation line without its trailing escape character (and blanks after it)."""
    return _strip_newline(line).rstrip(" \t")[:-1]


@dataclass
class _Joined:
    text: str
    comments: list[tuple[str, int]]
    empty_lines: int


def _join_lines(tokens: list[Token]) -> _Joined:
    """Join an instruction's physical lines into BuildKit's logical line."""
    first = tokens[0]
    is_cont = first.type != "END_LINE"
    text = _strip_newline(first.value)
    text = go_trim_left_space(text)
    if is_cont:
        text = text.rstrip(" \t")[:-1]
    parts = [text]
    comments: list[tuple[str, int]] = []
    empty = 0
    for tok in tokens[1:]:
        kind = tok.type
        if kind == "COMMENT_LINE":
            comments.append((tok.value, _line(tok)))
        elif kind == "BLANK_LINE":
            empty += 1
        elif kind == "END_LINE":
            parts.append(_strip_newline(tok.value))
        else:
            parts.append(_drop_continuation(tok.value))
    return _Joined("".join(parts), comments, empty)


@dataclass(frozen=True)
class _HeredocSpec:
    name: str
    file_descriptor: int
    chomp: bool
    expand: bool


def _raw_words(line: str) -> list[str]:
    """Words of a line, split on unquoted blanks; quotes and backslashes kept."""
    words: list[str] = []
    cur: list[str] = []
    quote = ""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\" and quote != "'" and i + 1 < n:
            cur.append(line[i : i + 2])
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in " \t\r\n\v\f":
            if cur:
                words.append("".join(cur))
                cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


def heredocs_in_line(line: str) -> list[_HeredocSpec]:
    """The heredocs a logical line opens (`<<EOF`, `<<-"EOF"`, `3<<EOF`), in order."""
    if "<<" not in line:
        return []
    from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer

    plain = ShellLexer(escape="\\")
    raw = ShellLexer(escape="\\", raw_quotes=True)
    specs = []
    for word in _raw_words(line):
        m = _HEREDOC_WORD_RE.match(word)
        if not m or not m.group(3):
            continue
        rest = m.group(3)
        try:
            names = plain.expand_words(rest, {})
            raw_names = raw.expand_words(rest, {})
        except ExpansionError:
            continue
        if len(names) != 1 or len(raw_names) != 1:
            continue
        quotes = names[0].count("'") + names[0].count('"')
        raw_quotes = raw_names[0].count("'") + raw_names[0].count('"')
        specs.append(
            _HeredocSpec(
                name=names[0],
                file_descriptor=int(m.group(1) or 0),
                chomp=m.group(2) == "-",
                expand=quotes == raw_quotes,
            )
        )
    return specs


def _heredoc_target(split: SplitLine) -> bool:
    """Whether an instruction may carry heredocs: RUN/COPY/ADD in shell form, or ONBUILD of one."""
    if split.child is not None:
        split = split.child
    return split.written_keyword.lower() in HEREDOC_KEYWORDS and not split.json


# ---------------------------------------------------------------------------
# The post-lexer


class _HeredocPostLexer:
    """Turns the lines after a heredoc-opening instruction into heredoc tokens."""

    always_accept: tuple[str, ...] = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        pending: list[Token] = []  # the lines of the instruction being read
        for tok in stream:
            kind = tok.type
            if kind in ("CONT_BS", "CONT_BT"):
                pending.append(tok)
                yield tok
                continue
            if kind == "END_LINE":
                pending.append(tok)
                yield tok
                yield from self._heredocs_after(pending, stream, Token)
                pending = []
                continue
            if pending and kind in ("COMMENT_LINE", "BLANK_LINE"):
                pending.append(tok)
            yield tok
        if pending:
            # a continuation that runs to the end of the file
            yield from self._heredocs_after(pending, stream, Token)

    def _heredocs_after(
        self, lines: list[Token], stream: Iterator[Token], token_type: type[Token]
    ) -> Iterator[Token]:
        if not any("<<" in t.value for t in lines):
            return
        joined = _join_lines(lines).text
        try:
            split = split_line(joined, "\\")
        except LineSyntaxError:
            return  # reported when the instruction is built
        if not _heredoc_target(split):
            return
        last = lines[-1]
        for spec in heredocs_in_line(joined):
            yield token_type("HEREDOC_START", spec.name, line=_line(last), column=1)
            for tok in stream:
                body = tok.value.rstrip("\r\n")
                if spec.chomp:
                    body = body.lstrip("\t")
                if body == spec.name:
                    yield token_type.new_borrow_pos("HEREDOC_END", tok.value, tok)
                    break
                yield tok


# ---------------------------------------------------------------------------
# From tree to AST


def _decode(source: str | bytes) -> str:
    text = source.decode("utf-8", "surrogateescape") if isinstance(source, bytes) else source
    return text.removeprefix("\ufeff")


def parse(source: str | bytes, path: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile. Raises `ParseError` with the file, line and column."""
    text = _decode(source)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    try:
        tree = _grammar_parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, path, lines) from None
    result = _build(tree, path, lines)
    if not result.instructions:
        raise ParseError(
            "file with no instructions",
            Location(path, max(len(lines), 1)),
            hint="a Dockerfile needs at least a FROM instruction",
        )
    return result


def _syntax_error(exc: Exception, path: str, lines: list[str]) -> ParseError:
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or set()
    at_end = isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    )
    if at_end and ({"HEREDOC_END", "HEREDOC_LINE"} & set(expected)):
        line = len(lines)
        return ParseError(
            "unterminated heredoc",
            Location(path, line, 1, source_line=lines[-1] if lines else ""),
            hint="end the heredoc with a line that holds only its delimiter word",
        )
    line = getattr(exc, "line", 0) or len(lines)
    column = getattr(exc, "column", 0) or 1
    src = lines[line - 1] if 0 < line <= len(lines) else None
    return ParseError(f"syntax error: {exc}".strip(), Location(path, line, column, source_line=src))


def _build(tree: Tree, path: str, lines: list[str]) -> Dockerfile:
    directives: list[Directive] = []
    comments: list[Comment] = []
    warnings: list[ParseWarning] = []
    instructions: list[Instruction] = []
    escape = "\\"
    seen: set[str] = set()
    pending_comments: list[str] = []

    for node in tree.children:
        assert isinstance(node, Tree)
        if node.data in ("directive", "directive_bt", "escape_backtick"):
            tok = node.children[0]
            assert isinstance(tok, Token)
            directive = _directive(tok, path, seen)
            directives.append(directive)
            if directive.name == "escape":
                escape = directive.value
            pending_comments.append(tok.value.strip().lstrip("#").strip())
            continue
        for item in node.children:
            if isinstance(item, Token):
                if item.type == "COMMENT_LINE":
                    text = item.value.strip().removeprefix("#").strip()
                    comments.append(Comment(text, _line(item)))
                    pending_comments.append(text)
                continue
            if item.data in ("instruction", "instruction_bt"):
                inst = _instruction(item, path, lines, escape, tuple(pending_comments), comments)
                if inst is None:
                    continue
                pending_comments = []
                if inst.empty_continuation_lines:
                    warnings.append(
                        ParseWarning(
                            "Empty continuation line found in: " + inst.original.strip(),
                            inst.start_line,
                        )
                    )
                instructions.append(inst)
    return Dockerfile(
        path=path,
        instructions=instructions,
        directives=directives,
        comments=comments,
        warnings=warnings,
        escape=escape,
        lines=lines,
    )


def _directive(tok: Token, path: str, seen: set[str]) -> Directive:
    m = _DIRECTIVE_RE.match(tok.value.rstrip("\r\n"))
    assert m is not None, tok.value
    name = m.group(1).lower()
    value = m.group(2)
    loc = Location(path, _line(tok), 1, source_line=tok.value.rstrip("\r\n"))
    if name in seen:
        raise ParseError(
            f"only one {name} parser directive can be used",
            loc,
            hint="remove the repeated directive",
        )
    seen.add(name)
    if name == "escape" and value not in ("\\", "`"):
        raise ParseError(
            f"invalid escape token '{value}' does not match ` or \\",
            loc,
            hint="use `# escape=\\` or `# escape=``",
        )
    return Directive(name, value, _line(tok))


def _instruction(
    item: Tree,
    path: str,
    lines: list[str],
    escape: str,
    prev_comments: tuple[str, ...],
    comments: list[Comment],
) -> Instruction | None:
    line_tokens: list[Token] = []
    heredoc_trees: list[Tree] = []
    for part in item.children:
        if isinstance(part, Tree):
            heredoc_trees.append(part)
        else:
            line_tokens.append(part)
    joined = _join_lines(line_tokens)
    for text, line in joined.comments:
        comments.append(Comment(text.strip().removeprefix("#").strip(), line, True))
    first = line_tokens[0]
    if joined.text == "" and len(line_tokens) == 1:
        return None
    start_line = _line(first)
    end_line = _line(line_tokens[-1])
    first_text = lines[start_line - 1] if start_line <= len(lines) else first.value
    column = len(first_text) - len(go_trim_left_space(first_text)) + 1
    try:
        split = split_line(joined.text, escape)
    except LineSyntaxError as exc:
        raise _line_error(exc, path, lines, start_line) from None

    heredocs: tuple[Heredoc, ...] = ()
    if heredoc_trees:
        specs = heredocs_in_line(joined.text)
        built = []
        for spec, htree in zip(specs, heredoc_trees, strict=False):
            toks = [t for t in htree.children if isinstance(t, Token)]
            body = "".join(t.value for t in toks if t.type == "HEREDOC_LINE")
            built.append(Heredoc(spec.name, spec.file_descriptor, spec.expand, spec.chomp, body))
            end_line = _line(toks[-1])
        heredocs = tuple(built)

    def node(part: SplitLine, original: str, child: Instruction | None = None) -> Instruction:
        return Instruction(
            keyword=part.written_keyword.lower(),
            written_keyword=part.written_keyword,
            flags=part.flags,
            args=part.args,
            json=part.json,
            start_line=start_line,
            end_line=end_line,
            original=original,
            key_values=part.key_values,
            heredocs=heredocs,
            child=child,
            column=column,
        )

    inner = node(split.child, split.child_rest) if split.child is not None else None
    inst = node(split, joined.text, inner)
    inst.comments = prev_comments
    inst.empty_continuation_lines = joined.empty_lines
    return inst


def _line_error(exc: LineSyntaxError, path: str, lines: list[str], line: int) -> ParseError:
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    column = 1
    if exc.needle:
        found = src.find(exc.needle)
        if found >= 0:
            column = found + 1
    return ParseError(
        str(exc),
        Location(path, line, column, source_line=src),
        hint=_LINE_HINTS.get(str(exc).split(" ", 1)[0]),
    )


_LINE_HINTS = {
    "ENV": "write ENV name=value (or the legacy form ENV name value)",
    "LABEL": "write LABEL key=value",
    "when": 'exec form must be a JSON array of strings, e.g. ["executable", "arg"]',
    "Syntax": "every word must be of the form name=value; quote values with blanks",
}
