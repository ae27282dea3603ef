"""`.dockerignore` reading and matching, against moby's documented and tested behaviour.

The tables come from moby/patternmatcher's tests (`TestMatches`, the
`filepath.Match` cases, `ignorefile.ReadAll`) and Docker's `.dockerignore`
documentation. The hypothesis tests check that hostile patterns and paths
never crash the matcher, that `may_match_inside` never lets a walker skip a
kept file, and that the matcher agrees with a direct port of moby's
algorithm on patterns where moby's regexp translation is sound.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder.context import load_ignore_patterns as exported_loader
from builder.context.dockerignore import (
    BadPatternError,
    DockerignoreError,
    IgnoreMatcher,
    IgnorePattern,
    compile_go_match,
    contains_wildcards,
    find_ignore_file,
    go_clean,
    go_match,
    load_ignore_patterns,
    parse_ignore_file,
    read_ignore_lines,
)
from builder.context.dockerignore.gomatch import _Nfa, _token_regexp
from builder.context.dockerignore.pattern import _classify


def matcher(*patterns: str) -> IgnoreMatcher:
    return IgnoreMatcher.compile(patterns)


# ---------------------------------------------------------------------------
# Go's path.Clean

CLEAN = [
    ("", "."),
    ("abc", "abc"),
    ("abc/def", "abc/def"),
    ("a/b/c", "a/b/c"),
    (".", "."),
    ("..", ".."),
    ("../..", "../.."),
    ("../../abc", "../../abc"),
    ("/abc", "/abc"),
    ("/", "/"),
    ("abc/", "abc"),
    ("abc/def/", "abc/def"),
    ("a/b/c/", "a/b/c"),
    ("./", "."),
    ("../", ".."),
    ("../../", "../.."),
    ("/abc/", "/abc"),
    ("abc//def//ghi", "abc/def/ghi"),
    ("//abc", "/abc"),
    ("///abc", "/abc"),
    ("//abc//", "/abc"),
    ("abc//", "abc"),
    ("abc/./def", "abc/def"),
    ("/./abc/def", "/abc/def"),
    ("abc/.", "abc"),
    ("abc/def/ghi/../jkl", "abc/def/jkl"),
    ("abc/def/../ghi/../jkl", "abc/jkl"),
    ("abc/def/..", "abc"),
    ("abc/def/../..", "."),
    ("/abc/def/../..", "/"),
    ("abc/def/../../..", ".."),
    ("/abc/def/../../..", "/"),
    ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
    ("abc/./../def", "def"),
    ("abc//./../def", "def"),
    ("abc/../../././../def", "../../def"),
]


@pytest.mark.parametrize(("path", "expected"), CLEAN)
def test_go_clean(path: str, expected: str) -> None:
    assert go_clean(path) == expected


# ---------------------------------------------------------------------------
# Reading the file: ignorefile.ReadAll


def test_read_all_like_moby() -> None:
    content = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    assert [p for _, p in read_ignore_lines(content)] == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", []),
        ("\n\n   \n\t\n", []),
        ("./foo\n", [(1, "foo")]),
        ("foo/../bar\n", [(1, "bar")]),
        ("a//b/\n", [(1, "a/b")]),
        ("/\n", [(1, "/")]),
        ("  # not a comment\n", [(1, "# not a comment")]),
        ("#comment\n  spaced  \n", [(2, "spaced")]),
        ("a\r\nb\r\n", [(1, "a"), (2, "b")]),
        ("\ufeffbom\n\ufeffagain\n", [(1, "bom"), (2, "\ufeffagain")]),
        ("!  ./keep/../kept\n", [(1, "!kept")]),
        ("last-line-without-newline", [(1, "last-line-without-newline")]),
    ],
)
def test_read_ignore_lines(content: str, expected: list[tuple[int, str]]) -> None:
    assert read_ignore_lines(content) == expected


def test_read_ignore_lines_accepts_invalid_utf8() -> None:
    lines = read_ignore_lines(b"caf\xe9\n")
    assert lines == [(1, "caf\udce9")]
    assert parse_ignore_file(b"caf\xe9\n").matches("caf\udce9")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("!\n", 1),
        ("ok\n!/\n", 2),
        ("[\n", 1),
        ("ok\n\na[\n", 3),
        ("a\\\n", 1),
        ("[]a]\n", 1),
        ("[-]\n", 1),
        ("[x-]\n", 1),
        ("[-x]\n", 1),
        ("[a-b-c]\n", 1),
        ("[^\n", 1),
        ("[^bc\n", 1),
        ("[z-a]\n", 1),
        ("*.go\n[\\\n", 2),
    ],
)
def test_bad_patterns_name_their_line(content: str, line: int) -> None:
    with pytest.raises(DockerignoreError) as info:
        parse_ignore_file(content, Path("ctx/.dockerignore"))
    assert info.value.line == line
    assert str(info.value).startswith(f".dockerignore:{line}: ")


# ---------------------------------------------------------------------------
# Matching: moby's TestMatches (MatchesOrParentMatches)

FAIL, EXACT, INEXACT = "fail", "exact", "inexact"

MOBY_MATCHES = [
    ("**", "file", EXACT),
    ("**", "file/", EXACT),
    ("**/", "file", EXACT),
    ("**/", "file/", EXACT),
    ("**", "/", EXACT),
    ("**/", "/", EXACT),
    ("**", "dir/file", EXACT),
    ("**/", "dir/file", EXACT),
    ("**", "dir/file/", EXACT),
    ("**/", "dir/file/", EXACT),
    ("**/**", "dir/file", EXACT),
    ("**/**", "dir/file/", EXACT),
    ("dir/**", "dir/file", EXACT),
    ("dir/**", "dir/file/", EXACT),
    ("dir/**", "dir/dir2/file", EXACT),
    ("dir/**", "dir/dir2/file/", EXACT),
    ("**/dir", "dir", EXACT),
    ("**/dir", "dir/file", INEXACT),
    ("**/dir2/*", "dir/dir2/file", EXACT),
    ("**/dir2/*", "dir/dir2/file/", INEXACT),
    ("**/dir2/**", "dir/dir2/dir3/file", EXACT),
    ("**/dir2/**", "dir/dir2/dir3/file/", EXACT),
    ("**file", "file", EXACT),
    ("**file", "dir/file", EXACT),
    ("**/file", "dir/file", EXACT),
    ("**file", "dir/dir/file", EXACT),
    ("**/file", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file", EXACT),
    ("**/file*", "dir/dir/file.txt", EXACT),
    ("**/file*txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt", "dir/dir/file.txt", EXACT),
    ("**/file*.txt*", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt", "dir/dir/file.txt", EXACT),
    ("**/**/*.txt2", "dir/dir/file.txt", FAIL),
    ("**/*.txt", "file.txt", EXACT),
    ("**/**/*.txt", "file.txt", EXACT),
    ("a**/*.txt", "a/file.txt", EXACT),
    ("a**/*.txt", "a/dir/file.txt", EXACT),
    ("a**/*.txt", "a/dir/dir/file.txt", EXACT),
    ("a/*.txt", "a/dir/file.txt", FAIL),
    ("a/*.txt", "a/file.txt", EXACT),
    ("a/*.txt**", "a/file.txt", EXACT),
    ("a[b-d]e", "ae", FAIL),
    ("a[b-d]e", "ace", EXACT),
    ("a[b-d]e", "aae", FAIL),
    ("a[^b-d]e", "aze", EXACT),
    (".*", ".foo", EXACT),
    (".*", "foo", FAIL),
    ("abc.def", "abcdef", FAIL),
    ("abc.def", "abc.def", EXACT),
    ("abc.def", "abcZdef", FAIL),
    ("abc?def", "abcZdef", EXACT),
    ("abc?def", "abcdef", FAIL),
    ("**/foo/bar", "foo/bar", EXACT),
    ("**/foo/bar", "dir/foo/bar", EXACT),
    ("**/foo/bar", "dir/dir2/foo/bar", EXACT),
    ("abc/**", "abc", FAIL),
    ("abc/**", "abc/def", EXACT),
    ("abc/**", "abc/def/ghi", EXACT),
    ("**/.foo", ".foo", EXACT),
    ("**/.foo", "bar.foo", FAIL),
    ("a(b)c/def", "a(b)c/def", EXACT),
    ("a(b)c/def", "a(b)c/xyz", FAIL),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", EXACT),
    ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", EXACT),
    ("a\\\\", "a\\", EXACT),
    ("a\\*b", "a*b", EXACT),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "path", "kind"), MOBY_MATCHES)
def test_moby_matches_or_parent_matches(pattern: str, path: str, kind: str) -> None:
    if path == "/":
        # the context root itself: moby's package-level Matches never excludes it either
        assert not matcher(pattern).matches(path)
        return
    assert matcher(pattern).matches(path) is (kind != FAIL)


@pytest.mark.parametrize(("pattern", "path", "kind"), MOBY_MATCHES)
def test_moby_matches_exact(pattern: str, path: str, kind: str) -> None:
    """moby's MatchesExact: the pattern alone on the path as given, no parent matching."""
    assert IgnorePattern.compile(pattern).matches(path) is (kind == EXACT)


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["**", "!util/docker/web"], "util/docker/web/foo", False),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
        (
            ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            False,
        ),
        (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
        # moby's single-pattern tests
        (["*"], "fileutils.go", True),
        (["*.go"], "fileutils.go", True),
        (["!fileutils.go", "*.go"], "fileutils.go", True),
        (["docs", "!docs/README.md"], "docs/README.md", False),
        (["docs/", "!docs/README.md"], "docs/README.md", False),
        (["docs/*", "!docs/README.md"], "docs/README.md", False),
        (["*.go", "!fileutils.go"], "fileutils.go", False),
        (["*.go"], ".", False),
        ([], "/any/path/there", False),
        (["docs", "  !docs/README.md  "], "docs/README.md", False),
        # the last matching pattern wins, exceptions included
        (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
        (["*.md", "!README*.md", "README-secret.md"], "CHANGES.md", True),
        (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
        (["!keep", "*"], "keep", True),
        (["*", "!keep", "keep"], "keep", True),
        # a directory excludes what is inside it
        (["node_modules"], "node_modules/a/b/c.js", True),
        (["node_modules"], "src/node_modules/x", False),
        (["*/node_modules"], "src/node_modules/x", True),
        (["**/node_modules"], "a/b/node_modules/x", True),
        (["a*"], "ab/c", True),
        (["a*/b"], "abc/b/d", True),
        (["a*/b"], "a/c/b", False),
        # Docker's documentation examples
        (["*/temp*"], "somedir/temporary.txt", True),
        (["*/temp*"], "somedir/temp", True),
        (["*/temp*"], "temp", False),
        (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
        (["*/*/temp*"], "somedir/temporary.txt", False),
        (["temp?"], "tempa", True),
        (["temp?"], "temp", False),
        (["temp?"], "tempab", False),
        (["**/*.go"], "a/b/c.go", True),
        (["**/*.go"], "c.go", True),
        # leading `/` and `./` are stripped, paths are cleaned
        (["/foo"], "foo", True),
        (["./foo/"], "foo/bar", True),
        (["foo//bar/../baz"], "foo/baz", True),
        (["foo"], "./foo", True),
        (["foo"], "/foo", True),
        (["foo"], "foo//", True),
        (["foo"], "bar/../foo", True),
        (["foo/bar"], "foo", False),
        # escapes, classes, special characters
        (["\\*"], "*", True),
        (["\\*"], "a", False),
        (["[*]"], "*", True),
        (["[*]"], "a", False),
        (["[a-c]x"], "bx", True),
        (["[^a-c]x"], "dx", True),
        (["[^a-c]x"], "bx", False),
        (["[!a]"], "!", True),
        (["[!a]"], "b", False),
        (["a^b"], "a^b", True),
        (["a\\d"], "ad", True),
        (["a\\d"], "a1", False),
        (["?"], "a/b", True),
        (["?"], "/", False),
        (["**.txt"], "a/b/c.txt", True),
        (["**.txt"], "txt", False),
        (["abc**"], "abcdef/x", True),
        (["a**b"], "ab", True),
        (["a**b"], "a/x/b", True),
        (["a**b"], "axb", False),
        (["."], "a", False),
        (["/"], "a", False),
        ([".."], "a", False),
        (["*"], "", False),
        (["*"], "/", False),
    ],
)
def test_pattern_lists(patterns: list[str], path: str, excluded: bool) -> None:
    """As lines of a .dockerignore file (`/foo` and `./foo` mean `foo` there)."""
    assert parse_ignore_file("\n".join(patterns)).matches(path) is excluded


def test_compiled_patterns_keep_a_leading_slash() -> None:
    """`patternmatcher.New` alone does not strip `/`: only the file reader does."""
    assert not matcher("/foo").matches("foo")
    assert parse_ignore_file("/foo\n").matches("foo")


# ---------------------------------------------------------------------------
# Go's filepath.Match (COPY wildcards use it)

GO_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
    ("**", "a", True),
    ("**", "a/b", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), GO_MATCH)
def test_go_match(pattern: str, name: str, expected: bool) -> None:
    assert go_match(pattern, name) is expected


@pytest.mark.parametrize(
    "pattern", ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "ab\\"]
)
def test_go_match_bad_patterns(pattern: str) -> None:
    with pytest.raises(BadPatternError):
        compile_go_match(pattern)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a*", True),
        ("a?", True),
        ("a[b]", True),
        ("a\\*", False),
        ("plain/path", False),
        ("", False),
    ],
)
def test_contains_wildcards(name: str, expected: bool) -> None:
    assert contains_wildcards(name) is expected


# ---------------------------------------------------------------------------
# explain, may_match_inside


def test_explain_names_the_deciding_pattern() -> None:
    m = parse_ignore_file("*.md\n!README*.md\nREADME-secret.md\n")
    decided = m.explain("README.md")
    assert decided is not None and decided.exclusion and decided.line == 2
    assert str(decided) == "!README*.md"
    secret = m.explain("docs/README-secret.md/x")
    assert secret is None  # README-secret.md is only matched at the root
    top = m.explain("README-secret.md")
    assert top is not None and top.line == 3 and not top.exclusion
    assert m.explain("main.go") is None
    assert m.explain("") is None


@pytest.mark.parametrize(
    ("patterns", "directory", "expected"),
    [
        (["node_modules"], "node_modules", False),
        (["node_modules"], "node_modules/sub", False),
        (["node_modules"], "src", True),
        (["node_modules", "!node_modules/keep.js"], "node_modules", True),
        (["node_modules", "!node_modules/keep.js"], "node_modules/sub", False),
        (["node_modules", "!node_modules/keep.js", "node_modules"], "node_modules", False),
        (["docs", "!docs/*.md"], "docs", True),
        (["docs", "!docs/*.md"], "docs/sub", False),
        (["docs", "!**/*.md"], "docs/sub", True),
        (["docs", "!*/README.md"], "docs", True),
        (["docs", "!*/README.md"], "docs/a", False),
        (["*", "!src"], "lib", False),
        (["*", "!src"], "src", True),
        (["*", "!s*c/main.go"], "src", True),
        (["*", "!s*c/main.go"], "lib", False),
        (["build/**"], "build", False),
        (["build/**", "!build/keep"], "build", True),
        (["abc**"], "abcdef", False),
        (["abc**"], "ab", True),
        (["**"], "anything", False),
        (["**", "!a/b/c"], "a", True),
        (["**", "!a/b/c"], "a/b", True),
        (["**", "!a/b/c"], "x", False),
        (["**", "!a[/]b"], "a", True),
        (["**", "!x**"], "xy", True),
        (["**", "!x**"], "y", False),
        ([], "anything", True),
        (["a"], "", True),
        (["**"], "", False),
    ],
)
def test_may_match_inside(patterns: list[str], directory: str, expected: bool) -> None:
    assert matcher(*patterns).may_match_inside(directory) is expected


def test_explain_inside() -> None:
    m = parse_ignore_file("node_modules\nbuild/**\n")
    inside = m.explain_inside("build")
    assert inside is not None and inside.line == 2
    whole = m.explain_inside("node_modules/a")
    assert whole is not None and whole.pattern == "node_modules"
    assert m.explain_inside("src") is None


# ---------------------------------------------------------------------------
# Which file a build reads


def test_load_ignore_patterns_precedence(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / ".dockerignore").write_text("from-context\n")
    dockerfile = ctx / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert load_ignore_patterns(ctx, dockerfile).matches("from-context")
    assert load_ignore_patterns(ctx).matches("from-context")
    assert load_ignore_patterns(ctx, "-").matches("from-context")

    (ctx / "Dockerfile.dockerignore").write_text("from-dockerfile\n")
    specific = load_ignore_patterns(ctx, dockerfile)
    assert specific.source == ctx / "Dockerfile.dockerignore"
    assert specific.matches("from-dockerfile")
    assert not specific.matches("from-context")

    other = tmp_path / "elsewhere" / "app.Dockerfile"
    other.parent.mkdir()
    other.write_text("FROM scratch\n")
    assert load_ignore_patterns(ctx, other).matches("from-context")
    (other.parent / "app.Dockerfile.dockerignore").write_text("from-app\n")
    assert find_ignore_file(ctx, other) == other.parent / "app.Dockerfile.dockerignore"
    assert load_ignore_patterns(ctx, other).matches("from-app")
    assert exported_loader is load_ignore_patterns


def test_load_ignore_patterns_without_file(tmp_path: Path) -> None:
    m = load_ignore_patterns(tmp_path, tmp_path / "Dockerfile")
    assert len(m) == 0 and m.source is None
    assert not m.matches("anything")
    assert m.may_match_inside("anything")


def test_load_ignore_patterns_reports_bad_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("ok\n[oops\n")
    with pytest.raises(DockerignoreError, match=r"\.dockerignore:2: syntax error"):
        load_ignore_patterns(tmp_path)
    (tmp_path / ".dockerignore").unlink()
    (tmp_path / ".dockerignore").mkdir()
    assert find_ignore_file(tmp_path) is None


def test_dangling_ignore_link_is_no_file(tmp_path: Path) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.symlink_to(tmp_path / "missing-target")
    assert find_ignore_file(tmp_path) is None  # a dangling link is no file


def test_parent_cache_survives_many_directories() -> None:
    m = matcher("a/**/keep", "x*")
    for i in range(3000):
        assert m.matches(f"d{i}/sub/file") is False
        assert m.matches(f"x{i}/sub/file") is True
    assert m.matches("a/b/c/keep")


def test_hostile_patterns_match_in_linear_time() -> None:
    m = matcher("*a*a*a*a*a*a*a*b", "**/**/**/**/**/x")
    path = "a" * 3000
    start = time.monotonic()
    assert not m.matches(path)
    assert not m.matches("/".join(["a"] * 300))
    assert go_match("*a*a*a*a*a*a*a*b", path) is False
    assert time.monotonic() - start < 5.0


def test_deep_paths_do_not_recurse() -> None:
    m = matcher("deep")
    path = "deep/" + "/".join(["d"] * 5000) + "/file"
    assert m.matches(path)
    assert m.explain(path) is not None


# ---------------------------------------------------------------------------
# Properties


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.lists(st.text(max_size=60), max_size=8))
@example("[\n!\n", ["a"])
@example("**\n!a/**/b\n", ["a/x/b", "a"])
def test_hostile_input_never_crashes(content: str, paths: list[str]) -> None:
    try:
        m = parse_ignore_file(content)
    except DockerignoreError:
        return
    for path in paths:
        assert isinstance(m.matches(path), bool)
        assert isinstance(m.may_match_inside(path), bool)
        decided = m.explain(path)
        assert decided is None or isinstance(decided, IgnorePattern)


@given(st.binary(max_size=200))
def test_hostile_bytes_never_crash(data: bytes) -> None:
    try:
        m = parse_ignore_file(data)
    except DockerignoreError:
        return
    assert isinstance(m.matches("a/b"), bool)


@given(st.text(max_size=40), st.text(max_size=40))
def test_go_match_never_crashes(pattern: str, name: str) -> None:
    try:
        result = go_match(pattern, name)
    except BadPatternError:
        return
    assert isinstance(result, bool)


_PATTERN_ATOMS = st.sampled_from(
    ["a", "b", "ab", ".", "/", "*", "**", "?", "[ab]", "[^a]", "\\*", "!"]
)
_PATH_PART = st.sampled_from(["a", "b", "ab", "ba", ".a", "*", "aa"])
patterns_strategy = st.lists(
    st.lists(_PATTERN_ATOMS, min_size=1, max_size=6).map("".join), min_size=1, max_size=5
)
paths_strategy = st.lists(_PATH_PART, min_size=1, max_size=5).map("/".join)


@settings(max_examples=400)
@given(patterns_strategy, paths_strategy, st.lists(_PATH_PART, min_size=1, max_size=4))
def test_may_match_inside_never_skips_kept_files(
    patterns: list[str], directory: str, below: list[str]
) -> None:
    """A walker that skips a directory when may_match_inside is False loses nothing."""
    try:
        m = matcher(*patterns)
    except DockerignoreError:
        return
    if not m.may_match_inside(directory):
        assert m.matches(directory + "/" + "/".join(below))


# A direct port of moby's patternmatcher (regexp translation and the
# MatchesOrParentMatches loop), used as an oracle on an alphabet where its
# regexps mean the same in Python as in Go: letters, `.`, `/`, `*`, `?`, `!`.


def _moby_compile(pattern: str) -> tuple[str, str, re.Pattern[str] | None]:
    reg = "^"
    kind = "exact"
    i, n, iteration = 0, len(pattern), 0
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg += ".*"
                        kind = "regexp"
                else:
                    reg += "(.*/)?"
                    kind = "regexp"
                if iteration == 0:
                    kind = "suffix"
            else:
                reg += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            reg += "[^/]"
            kind = "regexp"
        elif ch in ".+()|{}$":
            reg += "\\" + ch
        else:
            reg += ch
        iteration += 1
    return kind, pattern, re.compile(reg + "$") if kind == "regexp" else None


def _moby_match(compiled: tuple[str, str, re.Pattern[str] | None], path: str) -> bool:
    kind, pattern, regexp = compiled
    if kind == "exact":
        return path == pattern
    if kind == "prefix":
        return path.startswith(pattern[:-2])
    if kind == "suffix":
        suffix = pattern[2:]
        return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
    assert regexp is not None
    return regexp.match(path) is not None


def _moby_matches(patterns: list[str], path: str) -> bool:
    compiled = []
    for raw in patterns:
        p = go_clean(raw.strip())
        exclusion = p.startswith("!")
        if exclusion:
            p = p[1:]
        compiled.append((exclusion, _moby_compile(p)))
    path = go_clean(path)
    parent = path.rpartition("/")[0] if "/" in path else "."
    parents = parent.split("/")
    matched = False
    for exclusion, pattern in compiled:
        if exclusion != matched:
            continue
        hit = _moby_match(pattern, path)
        if not hit and parent != ".":
            hit = any(_moby_match(pattern, "/".join(parents[: i + 1])) for i in range(len(parents)))
        if hit:
            matched = not exclusion
    return matched


_ORACLE_ATOMS = st.sampled_from(["a", "b", "ab", ".", "/", "*", "**", "?"])
_ORACLE_PATTERN = st.tuples(
    st.booleans(), st.lists(_ORACLE_ATOMS, min_size=1, max_size=6).map("".join)
).map(lambda t: ("!" if t[0] else "") + t[1])


@settings(max_examples=500)
@given(st.lists(_ORACLE_PATTERN, min_size=1, max_size=5), paths_strategy)
@example(["**", "!a"], "a/b")
@example(["a**"], "ab/c")
@example(["**a"], "b/ba")
def test_agrees_with_moby(patterns: list[str], path: str) -> None:
    if any(go_clean(p.strip()) in ("!", "!/") for p in patterns):
        return
    assert matcher(*patterns).matches(path) is _moby_matches(patterns, path)


def _glob_reference(pattern: str, name: str) -> bool:
    regexp = "".join(
        "[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(regexp, name) is not None


@settings(max_examples=400)
@given(
    st.lists(st.sampled_from(["a", "b", "*", "?", "/"]), max_size=9).map("".join),
    st.lists(st.sampled_from(["a", "b", "/"]), max_size=9).map("".join),
)
@example("*a*a*b", "aaaab")
@example("*a*a*a*", "aaa")
@example("*/*/*", "a/b/")
def test_go_match_agrees_with_regexp(pattern: str, name: str) -> None:
    """Patterns with more than two stars run on the NFA; it must agree with `re`."""
    assert go_match(pattern, name) is _glob_reference(pattern, name)


@settings(max_examples=400)
@given(
    st.lists(
        st.sampled_from(["a", "b", "*", "**", "?", "/", "[ab]", "[^a]", "\\?"]),
        min_size=1,
        max_size=8,
    ).map("".join),
    st.lists(st.sampled_from(["a", "b", "/", "?", "\n"]), max_size=10).map("".join),
)
@example("a**b", "a/x/b")
@example("**/*", "a\nb/c")
def test_nfa_agrees_with_regexp(pattern: str, path: str) -> None:
    """The NFA that runs patterns with many wildcards gives `re`'s answers."""
    try:
        _, tokens, _ = _classify(pattern)
    except BadPatternError:
        return
    regexp = re.compile("".join(_token_regexp(kind, payload) for kind, payload in tokens))
    assert _Nfa(tokens)(path) is (regexp.fullmatch(path) is not None)
