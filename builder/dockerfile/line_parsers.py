"""Split one logical Dockerfile line into command, flags and arguments.

These follow BuildKit's line parsers (`splitCommand`, `extractBuilderFlags` and
the per-instruction dispatch table), so the arguments come out exactly as
BuildKit's AST has them: the JSON items in exec form, the raw string in shell
form, words for ARG, key/value pairs for ENV and LABEL. Nothing is expanded
here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from builder.dockerfile.ast import KeyValue
from builder.dockerfile.text import (
    WHITESPACE_RUN,
    go_quote,
    go_trim_left_space,
    go_trim_space,
    is_go_space,
)


class LineSyntaxError(ValueError):
    """A line cannot be split; `needle` is text to point the caret at, if known."""

    def __init__(self, message: str, needle: str | None = None):
        super().__init__(message)
        self.needle = needle


class _NotStringArray(LineSyntaxError):
    pass


#: How many ONBUILDs one line may chain (`ONBUILD ONBUILD ...`; never valid beyond one).
MAX_ONBUILD_CHAIN = 100
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


@dataclass(frozen=True)
class SplitLine:
    """The result of parsing one logical line."""

    written_keyword: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool = False
    key_values: tuple[KeyValue, ...] = ()
    child: SplitLine | None = None  # ONBUILD's instruction
    child_rest: str = ""  # ONBUILD: the wrapped instruction's text


def split_line(line: str, escape: str) -> SplitLine:
    """Parse a logical line (continuations already joined) like BuildKit.

    `ONBUILD ONBUILD ...` chains are read in a loop, not by recursion; one
    deeper than MAX_ONBUILD_CHAIN is a LineSyntaxError (BuildKit's parser reads
    any depth, and its command layer then rejects the chaining, as ours does).
    """
    onbuilds: list[tuple[str, tuple[str, ...], str]] = []  # (keyword, flags, rest)
    while True:
        if len(onbuilds) > MAX_ONBUILD_CHAIN:  # each level copies the rest of the line
            raise LineSyntaxError(
                f"ONBUILD chained more than {MAX_ONBUILD_CHAIN} levels deep", needle="ONBUILD"
            )
        keyword, flags, rest = split_command(line)
        kind = keyword.lower()
        parser = _DISPATCH.get(kind)
        if parser is None:
            # BuildKit keeps unknown instructions at this stage (with one empty
            # argument); the command layer reports them.
            split = SplitLine(keyword, flags, ("",))
        elif kind == "onbuild" and rest != "":
            onbuilds.append((keyword, flags, rest))
            line = rest
            continue
        elif kind == "onbuild":
            split = SplitLine(keyword, flags, ())
        else:
            result = parser(rest, escape)
            split = SplitLine(keyword, flags, result.args, result.json, result.key_values)
        break
    for keyword, flags, rest in reversed(onbuilds):
        split = SplitLine(keyword, flags, (), child=split, child_rest=rest)
    return split


def split_command(line: str) -> tuple[str, tuple[str, ...], str]:
    """Split a line into its keyword (as written), its `--flags` and the rest."""
    parts = WHITESPACE_RUN.split(go_trim_space(line), maxsplit=1)
    keyword = parts[0]
    if len(parts) < 2:
        return keyword, (), ""
    rest, flags = extract_builder_flags(parts[1])
    return keyword, tuple(flags), go_trim_space(rest)


def extract_builder_flags(line: str) -> tuple[str, list[str]]:
    """Take leading `--flag[=value]` words off a line; `--` ends the flags.

    Quotes and backslashes inside a flag are resolved (`--label="a b"` gives
    `--label=a b`), as BuildKit does.
    """
    words: list[str] = []
    n = len(line)
    pos = 0
    while True:
        while pos < n and is_go_space(line[pos]):
            pos += 1
        if pos >= n:
            return "", words
        if not (line.startswith("--", pos)):
            return line[pos:], words
        word: list[str] = []
        blank_ok = False
        quote = ""
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\":
                    if pos + 1 == n:
                        quote = ""
                    else:
                        pos += 1
                        word.append(line[pos])
                else:
                    word.append(ch)
                pos += 1
                continue
            if is_go_space(ch):
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if pos < n and text == "--":
            return line[pos:], words
        if text != "--" and (blank_ok or text):
            words.append(text)
        if pos >= n:
            return "", words


@dataclass(frozen=True)
class _Args:
    args: tuple[str, ...] = ()
    json: bool = False
    key_values: tuple[KeyValue, ...] = ()


def parse_words(rest: str, escape: str) -> list[str]:
    """Split into words on unquoted blanks, keeping quotes and escapes in the words."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    quote = ""
    n = len(rest)
    pos = 0
    in_word = False
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if is_go_space(ch):
                pos += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if pos + 1 == n:
                    quote = ""
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        if is_go_space(ch):
            if blank_ok or word:
                words.append("".join(word))
            word = []
            blank_ok = False
            in_word = False
            pos += 1
            continue
        if ch in "'\"":
            quote = ch
            blank_ok = True
        if ch == escape:
            if pos + 1 == n:
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _parse_name_val(rest: str, escape: str, keyword: str) -> _Args:
    """ENV and LABEL: `name=value ...`, or the legacy `name value` form."""
    words = parse_words(rest, escape)
    if not words:
        return _Args()
    if "=" not in words[0]:
        parts = WHITESPACE_RUN.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineSyntaxError(f"{keyword} must have two arguments", needle=parts[0])
        pairs: tuple[KeyValue, ...] = (KeyValue(parts[0], parts[1], ""),)
    else:
        out = []
        for word in words:
            if "=" not in word:
                raise LineSyntaxError(
                    f"Syntax error - can't find = in {go_quote(word)}. "
                    "Must be of the form: name=value",
                    needle=word,
                )
            key, _, value = word.partition("=")
            out.append(KeyValue(key, value, "="))
        pairs = tuple(out)
    flat = tuple(x for kv in pairs for x in (kv.key, kv.value))
    return _Args(flat, key_values=pairs)


def _parse_env(rest: str, escape: str) -> _Args:
    return _parse_name_val(rest, escape, "ENV")


def _parse_label(rest: str, escape: str) -> _Args:
    return _parse_name_val(rest, escape, "LABEL")


def _parse_name_or_name_val(rest: str, escape: str) -> _Args:
    return _Args(tuple(parse_words(rest, escape)))


def _parse_whitespace_delimited(rest: str, escape: str = "\\") -> _Args:
    if rest == "":
        return _Args()
    return _Args(tuple(WHITESPACE_RUN.split(rest)))


def _parse_string(rest: str, escape: str) -> _Args:
    return _Args((rest,)) if rest else _Args()


def _reject_constant(name: str) -> object:
    raise ValueError(name)


def _fix_surrogates(s: str) -> str:
    """Go's JSON decoder turns invalid UTF-8 and lone surrogates into U+FFFD."""
    if s.isascii():
        return s
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def parse_json_array(rest: str) -> tuple[str, ...] | None:
    """The strings of a JSON array, or None when `rest` is not a JSON array.

    Raises `LineSyntaxError` for a JSON array that holds anything but strings.
    """
    rest = go_trim_left_space(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    for item in value:
        if not isinstance(item, str):
            raise _NotStringArray(NOT_STRING_ARRAY, needle="[")
    return tuple(_fix_surrogates(item) for item in value)


def _parse_maybe_json(rest: str, escape: str) -> _Args:
    if rest == "":
        return _Args()
    items = parse_json_array(rest)
    if items is not None:
        return _Args(items, json=True)
    return _Args((rest,))


def _parse_maybe_json_to_list(rest: str, escape: str) -> _Args:
    items = parse_json_array(rest)
    if items is not None:
        return _Args(items, json=True)
    return _parse_whitespace_delimited(rest)


def _parse_health_config(rest: str, escape: str) -> _Args:
    sep = 0
    n = len(rest)
    while sep < n and not is_go_space(rest[sep]):
        sep += 1
    if sep == 0:
        return _Args()
    nxt = sep
    while nxt < n and is_go_space(rest[nxt]):
        nxt += 1
    cmd = _parse_maybe_json(rest[nxt:], escape)
    return _Args((rest[:sep], *cmd.args), json=cmd.json)


_DISPATCH: dict[str, Callable[[str, str], _Args]] = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_whitespace_delimited,
    "from": _parse_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_string,  # handled in split_line
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}
