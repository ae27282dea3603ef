"""Tests of Dockerfile word expansion (builder.dockerfile.shell_lexer).

The conformance vectors are read in place from BuildKit's own test data in
$PYBUILD_CONFORMANCE_DIR/buildkit/shell (tests/conftest.py); each line is its
own test.
"""

from __future__ import annotations

import pickle
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from tests.conftest import conformance_dir, missing_conformance

SHELL_DATA = Path("buildkit") / "shell"
ENV_VAR_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}

LEX = ShellLexer()


def _missing_data(name: str) -> list[object]:
    """One failing case when the data is absent: missing vectors must not pass silently."""
    return [pytest.param(None, name, None, id=f"missing-{name}")]


def _vectors(name: str) -> Path | list[object]:
    """The vector file `name`, or the one case to collect in its place."""
    root = conformance_dir()
    if root is None:
        return missing_conformance(None, None, None)
    path = root / SHELL_DATA / name
    return path if path.is_file() else _missing_data(str(path))


def _env_var_cases() -> list[object]:
    path = _vectors("envVarTest")
    if not isinstance(path, Path):
        return path
    cases: list[object] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        fields = line.strip().split("|")
        assert len(fields) == 3, f"envVarTest:{number}: {line!r}"
        platform, source, expected = (field.strip() for field in fields)
        assert platform in ("A", "U", "W"), f"envVarTest:{number}: {line!r}"
        if platform == "W":
            continue
        cases.append(pytest.param(number, source, expected, id=f"envVarTest:{number}"))
    return cases


def _words_cases() -> list[object]:
    path = _vectors("wordsTest")
    if not isinstance(path, Path):
        return path
    cases: list[object] = []
    env: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            name, _, value = line[3:].lstrip(" ").partition("=")
            env[name] = value  # trailing spaces are part of the value
            continue
        fields = line.split("|")
        assert len(fields) == 2, f"wordsTest:{number}: {line!r}"
        source = fields[0].strip()
        expected = fields[1].lstrip(" ").split(",")
        cases.append(pytest.param(dict(env), source, expected, id=f"wordsTest:{number}"))
    return cases


@pytest.mark.usefixtures("conformance")
@pytest.mark.parametrize(("number", "source", "expected"), _env_var_cases())
def test_buildkit_env_var_vectors(number: int | None, source: str, expected: str | None) -> None:
    if number is None:
        pytest.fail(f"conformance data not found: {source}")
    if expected == "error":
        with pytest.raises(ExpansionError):
            LEX.expand_word(source, ENV_VAR_ENV)
    else:
        assert LEX.expand_word(source, ENV_VAR_ENV) == expected


@pytest.mark.usefixtures("conformance")
@pytest.mark.parametrize(("env", "source", "expected"), _words_cases())
def test_buildkit_words_vectors(
    env: dict[str, str] | None, source: str, expected: list[str] | None
) -> None:
    if env is None:
        pytest.fail(f"conformance data not found: {source}")
    if expected == ["error"]:
        with pytest.raises(ExpansionError):
            LEX.expand_words(source, env)
    else:
        assert LEX.expand_words(source, env) == expected


# --- hand-written cases ------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "env", "expected"),
    [
        ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc"),
        ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc"),
        ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb "),
        ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  "),
        ("${BAR?bbb}", {"BAR": ""}, ""),
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
        ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
        ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
        ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
        ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
        ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
        ("${FOO%.*}", {"FOO": "archive.tar.gz"}, "archive.tar"),
        ("${FOO%%.*}", {"FOO": "archive.tar.gz"}, "archive"),
        ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
        ("${FOO#[x]}", {"FOO": "[x]y"}, "y"),  # brackets are literal, as in BuildKit
        (
            "${FOO/$N/.} - ${FOO//$N/.}",
            {"FOO": "/foo*/*/*.txt", "N": "\\*/"},
            "/foo.*/*.txt - /foo..*.txt",
        ),
        (
            "${FOO/$N/} - ${FOO//$N/}",
            {"FOO": "/tmp/tmp/bar.txt", "N": "/tmp"},
            "/tmp/bar.txt - /bar.txt",
        ),
        ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
        ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
        ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
        ("${FOO//x*/<$R>}", {"FOO": "axbx", "R": "$0"}, "a<xbx>"),  # Go template: $0 = match
        ("${FOO/x*/<$R>}", {"FOO": "axbx", "R": "$0"}, "a<$0>"),  # single replace: verbatim
        ("${FOO//*/-}", {"FOO": "ab"}, "-"),  # Go's empty-match rule, not re.sub's
        ("${FOO//*/-}", {"FOO": "a\nb"}, "-\n-"),  # `*` stops at a newline (Go's `.`)
        (
            "x-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz",
            {"V": "v1", "OS": "linux", "ARCH": "arm", "VARIANT": "v7"},
            "x-v1.linux-arm-v7.tgz",
        ),
        ("\ufeff$A", {"A": "a"}, "a"),  # a leading BOM is skipped, like Go's text/scanner
    ],
)
def test_expansion_cases(word: str, env: dict[str, str], expected: str) -> None:
    assert LEX.expand_word(word, env) == expected


@pytest.mark.parametrize(
    ("word", "env", "reason"),
    [
        ("${BAZ?ccc}", {}, "BAZ: ccc"),
        ("${BAZ?}", {}, "BAZ: is not allowed to be unset"),
        ("${BAR:?}", {"BAR": ""}, "BAR: is not allowed to be empty"),
        ("${VAR:?message here$ARG}", {"ARG": "x"}, "VAR: message herex"),
        ("${FOO=aaa}", {"FOO": "x"}, "unsupported modifier (=) in substitution"),
        ("${FOO:=aaa}", {}, "unsupported modifier (:=) in substitution"),
        ("${FOO:#x}", {"FOO": "x"}, "unsupported modifier (:#) in substitution"),
        ("${FOO//ww}", {"FOO": "x"}, "syntax error: missing '/' in ${}"),
        ("${FOO//}", {"FOO": "x"}, "syntax error: missing '/' in ${}"),
        ("${}", {}, "syntax error: bad substitution"),
        ("${aaa:-bbb", {}, "syntax error: missing '}'"),
        ("${FOO#\\x}", {"FOO": "x"}, "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
        ("'abc", {}, "unexpected end of statement while looking for matching single-quote"),
        ('"abc', {}, "unexpected end of statement while looking for matching double-quote"),
    ],
)
def test_expansion_errors(word: str, env: dict[str, str], reason: str) -> None:
    with pytest.raises(ExpansionError) as caught:
        LEX.expand_word(word, env)
    assert caught.value.reason == reason
    assert caught.value.word == word
    assert str(caught.value).startswith("failed to process ")
    assert str(caught.value).endswith(": " + reason)


def test_error_message_quotes_the_word_like_go() -> None:
    with pytest.raises(ExpansionError) as caught:
        LEX.expand_word('a"\t$', {})
    assert str(caught.value) == 'failed to process "a\\"\\t$": ' + (
        "unexpected end of statement while looking for matching double-quote"
    )
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.reason, copy.word, str(copy)) == (
        caught.value.reason,
        caught.value.word,
        str(caught.value),
    )


def test_backtick_escape() -> None:
    lex = ShellLexer(escape="`")
    env = {"A": "a"}
    assert lex.expand_word("C:\\path\\$A", env) == "C:\\path\\a"  # backslash is plain
    assert lex.expand_word("`$A", env) == "$A"
    assert lex.expand_word("``$A", env) == "`a"
    assert lex.expand_word('"x`"y"', env) == 'x"y'
    assert lex.expand_word('"`$A`x"', env) == "$A`x"  # ` before x stays
    assert lex.expand_word("a`", env) == "a"  # trailing escape dropped
    assert lex.expand_words("a` b c", env) == ["a b", "c"]


def test_escape_must_be_backslash_or_backtick() -> None:
    with pytest.raises(ValueError, match="escape"):
        ShellLexer(escape="x")


def test_raw_quotes() -> None:
    lex = ShellLexer(raw_quotes=True)
    env = {"A": "a b"}
    assert lex.expand_word("'x $A'\"$A\"", env) == "'x $A'\"a b\""
    assert lex.expand_words("x'1 2' \"$A\" $A", env) == ["x'1 2'", '"a b"', "a", "b"]


def test_raw_escapes() -> None:
    lex = ShellLexer(raw_escapes=True)
    env = {"A": "a"}
    assert lex.expand_word("\\$A\\ b", env) == "\\$A\\ b"
    assert lex.expand_word('"\\$A"', env) == "\\$A"
    # An escape that escapes nothing inside double quotes is written twice (BuildKit does so).
    assert lex.expand_word('"\\t"', env) == "\\\\t"
    # The words of ${V:-w} never keep escapes, whatever the mode.
    assert lex.expand_word("${X:-\\}}", env) == "}"
    assert lex.expand_words("a\\ b c", env) == ["a\\ b", "c"]


def test_expand_word_with_matches() -> None:
    env = {"FOO": "xxx", "BAR": "", "PWD": "/home"}
    result, matched, unmatched = LEX.expand_word_with_matches(
        "${FOO:-a} $BAR ${BAZ+c} ${1} '$QUOTED' \\$ESCAPED \"$PWD\"", env
    )
    assert result == "xxx    $QUOTED $ESCAPED /home"
    assert matched == {"FOO", "BAR", "PWD"}
    assert unmatched == {"BAZ", "1"}
    assert LEX.expand_word_with_matches("plain", env) == ("plain", set(), set())
    # A name is recorded even when only a default needed it.
    assert LEX.expand_word_with_matches("${ABC:-.}${FOO%x}", env)[1:] == ({"FOO"}, {"ABC"})


def test_words_splitting_details() -> None:
    env = {"S": " a  b ", "E": ""}
    assert LEX.expand_words("", env) == []
    assert LEX.expand_words("   ", env) == []
    assert LEX.expand_words('a "" b', env) == ["a", "b"]
    assert LEX.expand_words("x${S}y", env) == ["x", "a", "b", "y"]
    assert LEX.expand_words('x"$S"y', env) == ["x a  b y"]
    assert LEX.expand_words("${S:-q} ${E:-1 2}", env) == ["a", "b", "1", "2"]
    # Go's unicode.IsSpace, not str.isspace: U+001F joins, U+3000 separates.
    assert LEX.expand_words("a\x1fb c\u3000d", env) == ["a\x1fb", "c", "d"]
    assert LEX.expand_words("a\x1fb $E", env) == ["a\x1fb"]


def test_words_of_nested_expansions_keep_the_text_before_them() -> None:
    # BuildKit's current lex.go shares one word buffer between nested ${...:-...}
    # levels, which loses "a" here in ProcessWords; we keep the text (ProcessWord does too).
    assert LEX.expand_words("a${X:-b}c d", {}) == ["abc", "d"]
    assert LEX.expand_words("a${X#x}c", {"X": "x y"}) == ["a", "yc"]


def test_patterns_with_many_stars_stay_fast() -> None:
    env = {"V": "a" * 5000}
    started = time.perf_counter()
    assert LEX.expand_word("${V##*a*a*a*a*b}${V%%*a*?*a*b}${V//*a*a*b/x}", env) == "a" * 15000
    assert time.perf_counter() - started < 5  # backtracking would take hours


def test_plain_words_take_the_fast_path_unchanged() -> None:
    assert LEX.expand_word("  hello world  ", {}) == "  hello world  "
    assert LEX.expand_words(" hello\tworld\n", {}) == ["hello", "world"]


# --- properties --------------------------------------------------------------

_ALPHABET = st.sampled_from(list("$${}{}:-+?#%/'\"\\`*?[]!@0123 ab_Z\t\n.é\x1f\u3000"))
_TEXT = st.text(_ALPHABET, max_size=40)
_ENV = st.dictionaries(
    st.sampled_from(["a", "b", "Z", "_", "1", "@", "a_b"]), st.text(_ALPHABET, max_size=8)
)
_LEXERS = st.builds(
    ShellLexer,
    escape=st.sampled_from(["\\", "`"]),
    raw_quotes=st.booleans(),
    raw_escapes=st.booleans(),
)


@settings(max_examples=1500, deadline=1000)
@given(lexer=_LEXERS, word=_TEXT, env=_ENV)
def test_random_text_only_raises_expansion_error(
    lexer: ShellLexer, word: str, env: dict[str, str]
) -> None:
    try:
        result, matched, unmatched = lexer.expand_word_with_matches(word, env)
    except ExpansionError:
        with pytest.raises(ExpansionError):
            lexer.expand_words(word, env)
        return
    assert lexer.expand_word(word, env) == result
    words = lexer.expand_words(word, env)
    assert all(words)
    assert matched <= env.keys()
    assert not unmatched & env.keys()


@settings(max_examples=500, deadline=1000)
@given(word=st.text(st.characters(exclude_characters="$'\"\\`\ufeff"), max_size=30))
def test_fast_path_agrees_with_full_lexer(word: str) -> None:
    # Appending '' forces the full lexer without changing the words.
    assert LEX.expand_word(word + "''", {}) == LEX.expand_word(word, {}) == word
    assert LEX.expand_words(word + "''", {}) == LEX.expand_words(word, {})


def _oracle_regex(pattern: str, longest: bool) -> re.Pattern[str] | None:
    """BuildKit's way: the pattern as a regexp (None when BuildKit rejects it)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*" if longest else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            if pattern[i : i + 1] in ("}", "/"):
                continue
            if pattern[i : i + 1] not in ("*", "?", "\\"):
                return None
            out.append(re.escape(pattern[i]))
            i += 1
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _reversed_pattern(pattern: str) -> str:
    tokens, i = [], 0
    while i < len(pattern):
        take = 2 if pattern[i] == "\\" and i < len(pattern) - 1 else 1
        tokens.append(pattern[i : i + take])
        i += take
    return "".join(reversed(tokens))


def _oracle(op: str, value: str, pattern: str) -> str | None:
    """What BuildKit computes with Go's regexp (same leftmost-first semantics as `re`)."""
    longest = op in ("##", "%%", "/", "//")
    if op in ("%", "%%"):
        pattern, value = _reversed_pattern(pattern), value[::-1]
    regex = _oracle_regex(pattern, longest)
    if regex is None:
        return None
    if op in ("#", "##", "%", "%%"):
        found = regex.match(value)
        trimmed = value[found.end() :] if found else value
        return trimmed[::-1] if op.startswith("%") else trimmed
    if op == "/":
        found = regex.search(value)
        return value if found is None else value[: found.start()] + "<$0>" + value[found.end() :]
    out, last_end, pos = [], 0, 0
    while pos <= len(value):
        found = regex.search(value, pos)
        if found is None:
            break
        out.append(value[last_end : found.start()])
        if found.end() > last_end or found.start() == 0:
            out.append(f"<{found.group()}>")
        last_end = found.end()
        pos = max(pos + 1, found.end())
    out.append(value[last_end:])
    return "".join(out)


@settings(max_examples=3000, deadline=1000)
@given(
    op=st.sampled_from(["#", "##", "%", "%%", "/", "//"]),
    value=st.text(st.sampled_from("aab\n*?\\"), max_size=10),
    pattern=st.text(st.sampled_from("ab**?\\\n"), max_size=7),
)
def test_pattern_matching_agrees_with_regexp_oracle(op: str, value: str, pattern: str) -> None:
    env = {"V": value, "P": pattern, "R": "<$0>"}
    word = f"${{V{op}$P/$R}}" if op.startswith("/") else f"${{V{op}$P}}"
    expected = _oracle(op, value, pattern)
    if expected is None:
        with pytest.raises(ExpansionError, match="invalid pattern"):
            LEX.expand_word(word, env)
    else:
        assert LEX.expand_word(word, env) == expected
