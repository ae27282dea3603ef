"""Heredocs built for real (busybox, runc): what lands in the image, and what the cache sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.solve.progress import Event, StepDone
from builder.store import Store
from tests.solve.building import busybox_store, flatten, run_build, write_context

ISSUE_DOCKERFILE = """
FROM busybox
ARG A=fromarg
ENV B=fromenv
COPY <<EOF /x
a=$A b=$B c=${A:-dflt}
EOF
COPY <<"EOF" /y
a=$A b=$B c=${A:-dflt}
EOF
RUN <<EOF
echo "a=$A b=$B c=${A:-dflt} d=${A#from} e=${U:-unset}" > /r
EOF
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path_factory.mktemp("heredoc-store") / "store", busybox_rootfs_tar)


def test_copy_heredocs_see_arg_and_env_and_quoted_ones_do_not(store: Store, tmp_path: Path) -> None:
    context = write_context(tmp_path / "ctx", ISSUE_DOCKERFILE)
    result = run_build(store, context)
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "x").read_text() == "a=fromarg b=fromenv c=fromarg\n"
    assert (root / "y").read_text() == "a=$A b=$B c=${A:-dflt}\n"
    assert (root / "r").read_text() == "a=fromarg b=fromenv c=fromarg d=arg e=unset\n"


def test_build_args_reach_copy_and_run_heredocs_and_miss_the_cache(
    store: Store, tmp_path: Path
) -> None:
    context = write_context(tmp_path / "ctx", ISSUE_DOCKERFILE)
    run_build(store, context, build_args={"A": "one"})
    events: list[Event] = []
    result = run_build(store, context, build_args={"A": "two"}, events=events)
    root = flatten(store, result.record, tmp_path / "root")
    assert (root / "x").read_text() == "a=two b=fromenv c=two\n"
    assert (root / "r").read_text() == "a=two b=fromenv c=two d=two e=unset\n"
    # after FROM: COPY <<EOF (a new body) misses, and so does everything after it
    assert _cached(events)[1:] == [False, False, False]
    again: list[Event] = []
    run_build(store, context, build_args={"A": "two"}, events=again)
    assert _cached(again)[1:] == [True, True, True]


def _cached(events: list[Event]) -> list[bool]:
    return [e.cached for e in events if isinstance(e, StepDone)]
