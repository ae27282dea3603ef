"""Parser behaviour beyond BuildKit's test files: heredocs, directives, lines, errors."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.dockerfile.dump import dump_buildkit, to_json
from builder.dockerfile.parser import _grammar_parser, parse
from builder.errors import ParseError


def one(text: str):
    (inst,) = parse(text).instructions
    return inst


def test_keywords_are_case_insensitive_and_keep_their_spelling() -> None:
    inst = one("fRoM busybox AS base\n")
    assert (inst.keyword, inst.written_keyword, inst.args) == (
        "from",
        "fRoM",
        ("busybox", "AS", "base"),
    )


def test_line_span_covers_continuations_and_heredoc_bodies() -> None:
    df = parse("FROM a\n\nRUN echo a \\\n  b \\\n  c\nRUN <<EOF\none\ntwo\nEOF\nCMD x\n")
    spans = [(i.keyword, i.start_line, i.end_line) for i in df]
    assert spans == [("from", 1, 1), ("run", 3, 5), ("run", 6, 9), ("cmd", 10, 10)]


def test_heredoc_forms() -> None:
    text = (
        "FROM a\n"
        "RUN <<-EOT bash\n\techo tab\n\tEOT\n"
        'COPY <<A <<"B" /dst/\naaa\nA\nb $X\nB\n'
        "RUN 3<<FD cat <&3\nbody\nFD\n"
        "RUN cat <<'Q'\n$NOT\nQ\n"
    )
    df = parse(text)
    run_tab, copy, fd, quoted = df.instructions[1:]
    (h,) = run_tab.heredocs
    assert (h.name, h.chomp, h.expand, h.content) == ("EOT", True, True, "\techo tab\n")
    assert [(h.name, h.expand, h.content) for h in copy.heredocs] == [
        ("A", True, "aaa\n"),
        ("B", False, "b $X\n"),
    ]
    assert copy.args == ("<<A", '<<"B"', "/dst/")
    assert fd.heredocs[0].file_descriptor == 3
    assert quoted.heredocs[0].expand is False


def test_heredoc_body_may_look_like_instructions() -> None:
    df = parse("FROM a\nRUN <<EOF\nFROM evil\n# not a comment\nRUN x \\\nEOF\nUSER me\n")
    assert [i.keyword for i in df] == ["from", "run", "user"]
    assert df.instructions[1].heredocs[0].content == "FROM evil\n# not a comment\nRUN x \\\n"


def test_no_heredoc_in_exec_form_or_other_instructions() -> None:
    df = parse('FROM a\nRUN ["echo", "<<EOF"]\nENV A=<<EOF\nEOF\n')
    assert [i.keyword for i in df] == ["from", "run", "env", "eof"]
    assert all(not i.heredocs for i in df)


def test_onbuild_heredoc() -> None:
    inst = parse("FROM a\nONBUILD RUN <<X\ninner\nX\n").instructions[1]
    assert inst.child is not None and inst.child.heredocs[0].content == "inner\n"
    assert (inst.start_line, inst.end_line) == (2, 4)


def test_unterminated_heredoc_is_an_error() -> None:
    with pytest.raises(ParseError) as info:
        parse("FROM a\nRUN <<EOF\nnever ends\n", path="Dockerfile")
    assert "unterminated heredoc" in info.value.message
    assert str(info.value).startswith("Dockerfile:3")


def test_escape_directive_backtick() -> None:
    df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n")
    assert df.escape == "`"
    assert df.instructions[1].args == ("dir c:\\   && echo",)


def test_backslash_ending_line_is_not_a_continuation_with_backtick_escape() -> None:
    df = parse("# escape=`\nFROM x\n\nRUN a\\\nRUN b\n")
    assert [i.args for i in df][1:] == [("a\\",), ("b",)]


def test_backtick_ending_line_is_not_a_continuation_by_default() -> None:
    df = parse("FROM x\n\n`weird`\nRUN b\n")
    assert [i.keyword for i in df] == ["from", "`weird`", "run"]


def test_directives_only_at_the_top() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n# escape=`\nRUN a \\\n b\n")
    assert [(d.name, d.value, d.line) for d in df.directives] == [
        ("syntax", "docker/dockerfile:1", 1),
        ("check", "skip=all", 2),
    ]
    assert df.escape == "\\"
    assert df.instructions[1].args == ("a  b",)


def test_directive_after_a_comment_is_a_comment() -> None:
    df = parse("# hello\n# escape=`\nFROM a\n")
    assert df.directives == [] and df.escape == "\\"


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\", 1),
        ("# escape=\\\n# escape=`\nFROM a\n", "only one escape parser directive can be used", 2),
        ("# syntax=a\n# syntax=b\nFROM a\n", "only one syntax parser directive can be used", 2),
    ],
)
def test_directive_errors(text: str, message: str, line: int) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.message == message
    assert info.value.location is not None and info.value.location.line == line


def test_comments_are_recorded_with_lines() -> None:
    df = parse("# hadolint ignore=DL3008\nFROM a\nRUN a \\\n  # inside\n  b\n")
    assert [(c.text, c.line, c.in_continuation) for c in df.comments] == [
        ("hadolint ignore=DL3008", 1, False),
        ("inside", 4, True),
    ]
    assert df.instructions[0].comments == ("hadolint ignore=DL3008",)


def test_empty_continuation_lines_warn() -> None:
    df = parse("FROM a\nRUN a \\\n\n  b\n")
    assert df.instructions[1].args == ("a   b",)
    assert [w.line for w in df.warnings] == [2]


def test_bom_and_crlf() -> None:
    df = parse(b"\xef\xbb\xbfFROM a\r\nRUN x \\\r\n  y\r\n")
    assert [i.args for i in df] == [("a",), ("x   y",)]


def test_invalid_utf8_is_kept_and_dumped_as_go_does() -> None:
    df = parse(b"FROM a\nRUN echo \xff\n")
    assert dump_buildkit(df).splitlines()[1] == '(run "echo \\xff")'


def test_json_output_shape() -> None:
    data = to_json(parse("FROM a AS b\nCOPY --from=b --chown=1:1 a b /c/\nONBUILD RUN echo hi\n"))
    assert '"cmd": "copy"' in data and '"flags": [\n      "--from=b"' in data
    import json

    items = json.loads(data)
    assert items[1] == {
        "cmd": "copy",
        "sub_cmd": None,
        "json": False,
        "original": "COPY --from=b --chown=1:1 a b /c/",
        "flags": ["--from=b", "--chown=1:1"],
        "value": ["a", "b", "/c/"],
        "start_line": 2,
        "end_line": 2,
        "heredocs": [],
    }
    assert (items[2]["cmd"], items[2]["sub_cmd"], items[2]["value"]) == (
        "onbuild",
        "run",
        ["echo hi"],
    )


def test_env_values_are_flat_with_quotes_kept() -> None:
    inst = one('ENV a=1 b="2 3"\n')
    assert inst.args == ("a", "1", "b", '"2 3"')
    assert [kv.separator for kv in inst.key_values] == ["=", "="]


def test_error_has_line_column_and_caret() -> None:
    with pytest.raises(ParseError) as info:
        parse("FROM a\nLABEL a=b c\n", path="df")
    rendered = info.value.render()
    assert rendered.splitlines()[0].startswith('df:2:11: Syntax error - can\'t find = in "c"')
    assert "   2 | LABEL a=b c" in rendered
    assert rendered.splitlines()[2].endswith("          ^")


def test_grammar_never_offers_both_escape_families_in_one_state() -> None:
    """A merged LALR state would let a backtick line continue a backslash file."""
    table = _grammar_parser().parser.parser.parser.parse_table
    for actions in table.states.values():
        assert not {"CONT_BS", "CONT_BT"} <= set(actions)


def test_very_long_line_is_fast() -> None:
    long_run = "RUN " + "echo aaaaaaaa && " * 60_000 + "true\n"
    start = time.perf_counter()
    df = parse("FROM a\n" + long_run + "ENV " + "k=v " * 20_000 + "\n")
    assert time.perf_counter() - start < 5
    assert len(df) == 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_parse_or_fail_cleanly(data: bytes) -> None:
    try:
        parse(data)
    except ParseError as err:
        assert err.render()


_LINES = st.sampled_from(
    [
        "FROM a", "RUN x \\", "RUN <<EOF", "EOF", "# escape=`", "# syntax=x", "`", "\\",
        "COPY <<-X /a", "\tX", "ENV a=b", "ENV a", "LABEL", 'CMD ["a"', "ONBUILD RUN <<E",
        "E", "", "  ", "# c", "ARG a b=c", "HEALTHCHECK CMD", "--flag", 'CMD [1]',
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_LINES | st.text(max_size=30), max_size=25))
def test_random_line_mixes_parse_or_fail_cleanly(lines: list[str]) -> None:
    try:
        df = parse("\n".join(lines))
    except ParseError as err:
        assert err.location is not None and err.render()
        return
    for inst in df:
        assert 1 <= inst.start_line <= inst.end_line
