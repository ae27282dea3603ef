"""Hostile Dockerfiles: no traceback, and a time bound.

Whatever bytes a Dockerfile holds, parsing, planning and linting it either
succeed or raise a `PybuildError` with a message, each within `BOUND`
seconds. Inputs are real-world Dockerfiles (the parser corpus: conformance
data, fixtures, the Debian corpus) mutated byte-wise, and generated
fragments: nested expansions, odd flags, heredocs, raw bytes. ShellCheck is
off: it is a program of its own, and its time is not pybuild's.

The generated classes that used to fail or crawl have fixed cases below
(`NASTY`), sized well past where they did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.dockerfile.parser import parse
from builder.errors import PybuildError
from builder.lint import LintConfig, Source, lint
from builder.plan.graph import plan
from tests.dockerfile.test_against_buildkit import corpus

#: Seconds one input of up to MAX_INPUT bytes may take through parse + plan, and
#: through lint. Time grows linearly with size (about 1 s per MB for parse + plan,
#: the lint shell parser about 5 µs per word of a RUN).
BOUND = 2.0
MAX_INPUT = 128 * 1024
LINT = LintConfig(shellcheck=False)

FRAGMENTS: tuple[bytes, ...] = (
    b"${a:+", b"}", b"${a/b/c}", b"${a%%*}", b"${a:?x}", b"$", b"$$", b"${", b"\\\n", b"`",
    b"# escape=`\n", b'"', b"'", b"<<EOF\n", b"\nEOF\n", b"<<-EOF ", b"ONBUILD ", b"--from=",
    b"--mount=type=cache,target=", b"--mount=", b"--platform=$X ", b"--chmod=", b"--frmo=x ",
    b"FROM x AS y\n", b"COPY --from=y a b\n", b"COPY --from=0 a b\n", b"ARG A=${B}\n",
    b"EXPOSE ", b"HEALTHCHECK ", b"[", b"]", b'["a",', b"=", b"\t", b"\r", b"\n", b"\xe9",
    b"\xff\xfe", b"\x00", b"\xef\xbb\xbf", b"$(", b")", b"{ ", b"; }", b"if true; then ",
)  # fmt: skip
FALLBACK_SEEDS = (b"FROM alpine AS build\nRUN make\nFROM scratch\nCOPY --from=build /a /a\n",)


@cache
def seeds() -> tuple[bytes, ...]:
    """The real-world Dockerfiles mutations start from."""
    files = [p.read_bytes() for p in corpus()]
    return tuple(f for f in files if len(f) < 64_000) or FALLBACK_SEEDS


def nested(opening: str, closing: str, depth: int, core: str = "x") -> bytes:
    return (opening * depth + core + closing * depth).encode()


generated_fragments = st.one_of(
    st.sampled_from(FRAGMENTS),
    st.binary(max_size=16),
    st.builds(nested, st.sampled_from(["${a:+", "${a:-", "${a/", "${a#"]), st.just("}"),
              st.integers(0, 400)),
    st.builds(nested, st.sampled_from(["$(", "(", "$((", '"$(', "{ "]),
              st.sampled_from([")", ")", "))", ')"', "; }"]), st.integers(0, 400)),
    st.builds(lambda n: b"ONBUILD " * n + b"RUN x\n", st.integers(0, 400)),
    st.builds(lambda n: b" ".join(b"K%d=$K%d" % (i, i + 1) for i in range(n)), st.integers(0, 3000)),
    st.builds(lambda n: b"".join(b"<<E%d " % i for i in range(n)) + b"\n", st.integers(0, 200)),
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """A seed with a few insertions (a fragment, maybe repeated), deletions and copies,
    cut to MAX_INPUT bytes."""
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "insert", "delete", "repeat"]))
        if kind == "insert":
            data[at:at] = draw(generated_fragments) * draw(st.sampled_from([1, 1, 2, 10, 200]))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            start = draw(st.integers(0, len(data)))
            data[at:at] = data[start : start + draw(st.integers(1, 200))] * draw(
                st.sampled_from([2, 10, 100])
            )
    return bytes(data[:MAX_INPUT])


def check(data: bytes) -> None:
    """Parse + plan, then lint: only PybuildErrors, each part within BOUND."""
    start = time.monotonic()
    try:
        plan(parse(data, path="Dockerfile"), build_args={}, environ={})
    except PybuildError as exc:
        assert exc.message
    planned = time.monotonic()
    result = lint(Source(data, "Dockerfile"), LINT)
    linted = time.monotonic()
    assert result.internal_errors == []
    for finding in result.findings:
        assert finding.code and finding.message
    assert planned - start < BOUND, f"parse + plan took {planned - start:.2f} s"
    assert linted - planned < BOUND, f"lint took {linted - planned:.2f} s"


FUZZ = dict(
    deadline=None,  # timed in `check`, against BOUND
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@settings(max_examples=500, **FUZZ)
@given(mutated(st.sampled_from(seeds())))
def test_mutated_real_world_dockerfiles(data: bytes) -> None:
    check(data)


@settings(max_examples=150, **FUZZ)
@given(mutated(st.sampled_from([b"FROM busybox\n", b"FROM busybox\nRUN ", b"FROM a AS b\nENV "])))
def test_generated_fragments(data: bytes) -> None:
    check(data)


def _deep(opening: str, closing: str, depth: int) -> str:
    return opening * depth + "x" + closing * depth


#: Inputs of the classes that used to crash (RecursionError) or crawl.
NASTY: dict[str, str] = {
    "nested-expansion": "FROM busybox\nENV a=1\nENV X=" + _deep("${a:+", "}", 3000) + "\n",
    "nested-expansion-in-from": "FROM " + _deep("${B:-", "}", 3000) + "\n",
    "nested-expansion-in-run": "FROM busybox\nRUN echo " + _deep("${a:-", "}", 3000) + "\n",
    "nested-quoted-expansion": 'FROM busybox\nRUN echo "' + _deep('${a:-"', '"}', 3000) + '"\n',
    "deep-onbuild": "FROM busybox\n" + "ONBUILD " * 3000 + "RUN x\n",
    "deep-subshells": "FROM busybox\nRUN " + _deep("(", ")", 3000) + "\n",
    "deep-substitutions": "FROM busybox\nRUN echo " + _deep("$(", ")", 3000) + "\n",
    "deep-json": "FROM busybox\nCMD " + _deep("[", "]", 20000) + "\n",
    "env-pairs-8000": "FROM busybox\nENV "
    + " ".join(f"K{i}=$K{i + 1}" for i in range(8000))
    + "\n",
    "args-5000": "FROM busybox\n" + "".join(f"ARG A{i}=$A{i - 1}\n" for i in range(5000)),
    "stages-2000-chain": "FROM busybox AS s0\n"
    + "".join(f"FROM busybox AS s{i}\nCOPY --from=s{i - 1} / /\n" for i in range(1, 2000)),
    "stages-2000-reversed": "".join(
        f"FROM busybox AS s{i}\nCOPY --from=s{i + 1} / /\n" for i in range(2000)
    )
    + "FROM busybox AS s2000\n",
    "long-line": "FROM busybox\nRUN " + "a " * 100_000 + "\n",
    "continuations": "FROM busybox\nRUN a \\\n" + "  b \\\n" * 20_000 + " c\n",
    "heredocs": "FROM busybox\nRUN "
    + " ".join(f"<<E{i}" for i in range(2000))
    + "\n"
    + "".join(f"x\nE{i}\n" for i in range(2000)),
}


@pytest.mark.parametrize("name", NASTY)
def test_nasty_input_is_bounded(name: str) -> None:
    check(NASTY[name].encode())


def test_nesting_limit_is_an_error_with_a_message() -> None:
    with pytest.raises(PybuildError, match="nested more than 100 levels"):
        plan(parse(NASTY["nested-expansion"]), build_args={}, environ={})


#: For the CLI: file contents, and what `build --dry-run` and `lint` say about it.
CLI_CASES = {
    "nested-expansion": (
        NASTY["nested-expansion"],
        "nested more than 100 levels",
        "nested more than 100 levels",
    ),
    "deep-onbuild": (NASTY["deep-onbuild"], "ONBUILD chained more than 100", "ONBUILD chained"),
    "onbuild-onbuild": ("FROM busybox\nONBUILD ONBUILD RUN x\n", "ONBUILD ONBUILD", "DL3043"),
    "bad-flag": ("FROM busybox\nCOPY --frmo=x a /a\n", "unknown flag: --frmo", "--frmo"),
    "bad-port": ("FROM busybox\nEXPOSE abc\n", "invalid containerPort: abc", "abc"),
    "not-utf8": ("FROM busybox\nCOPY caf\udce9\n", "COPY requires at least two", "COPY requires"),
}


@pytest.mark.parametrize("name", CLI_CASES)
@pytest.mark.parametrize("command", ["build", "lint"])
def test_cli_reports_nasty_input_in_a_few_lines(name: str, command: str, tmp_path: Path) -> None:
    text, for_build, for_lint = CLI_CASES[name]
    expected = for_build if command == "build" else for_lint
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(text.encode("utf-8", "surrogateescape"))
    args = ["build", "--dry-run", str(tmp_path)] if command == "build" else ["lint", "-"]
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli.main", *args],
        input=dockerfile.read_bytes() if command == "lint" else None,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert expected in output
    lines = output.splitlines()
    assert len(lines) <= 5 and all(len(line) <= 400 for line in lines), output
