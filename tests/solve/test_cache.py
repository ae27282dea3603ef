"""The build cache: what reuses, what misses, and the reasons --explain-cache gives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from builder.solve.progress import StepDone, StepLog, StepStarted
from builder.store import Store
from tests.solve.building import busybox_store, output_of, run_build, write_context

DOCKERFILE = """
FROM busybox
ARG VERSION=1
ENV MODE=release
COPY app/ /app/
RUN echo version=$VERSION > /version
RUN chmod u+s /bin/busybox
USER nobody
CMD ["sh"]
"""


@pytest.fixture
def store(tmp_path: Path, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path / "store", busybox_rootfs_tar)


def _steps(events: list) -> dict[str, str]:
    """Step name -> "CACHED" / "RAN"."""
    names = {e.vertex: e.name for e in events if isinstance(e, StepStarted)}
    return {
        names[e.vertex]: "CACHED" if e.cached else "RAN"
        for e in events
        if isinstance(e, StepDone)
        and not names[e.vertex].endswith("FROM busybox")
        and "FROM" not in names[e.vertex]
    }


def _reasons(events: list) -> list[str]:
    return [e.text for e in events if isinstance(e, StepLog)]


def _context(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Path:
    return write_context(
        tmp_path / "ctx", dockerfile, {"app/main.sh": "echo main\n", "app/lib.sh": "echo lib\n"}
    )


def test_second_build_is_fully_cached_and_identical(store: Store, tmp_path: Path) -> None:
    context = _context(tmp_path)
    first = run_build(store, context, tags=["app:1"])
    events: list = []
    started = time.monotonic()
    second = run_build(store, context, tags=["app:1"], events=events)
    assert time.monotonic() - started < 2
    assert set(_steps(events).values()) == {"CACHED"}
    assert second.record.id == first.record.id  # same config, times included
    assert output_of(events) == ""


def test_editing_one_line_reruns_it_and_what_follows(store: Store, tmp_path: Path) -> None:
    context = _context(tmp_path)
    run_build(store, context)
    (context / "Dockerfile").write_text(DOCKERFILE.replace("chmod u+s", "chmod u+s,g+s").lstrip())
    events: list = []
    run_build(store, context, events=events, explain_cache=True)
    steps = _steps(events)
    assert steps == {
        "[2/4] COPY app/ /app/": "CACHED",
        "[3/4] RUN echo version=$VERSION > /version": "CACHED",
        "[4/4] RUN chmod u+s,g+s /bin/busybox": "RAN",
    }
    assert any("instruction changed" in r and "g+s" in r for r in _reasons(events))


def test_changed_file_and_build_arg_are_named(store: Store, tmp_path: Path) -> None:
    context = _context(tmp_path)
    run_build(store, context)
    (context / "app" / "lib.sh").write_text("echo changed\n")
    events: list = []
    run_build(store, context, events=events, explain_cache=True)
    assert _steps(events)["[2/4] COPY app/ /app/"] == "RAN"
    reasons = _reasons(events)
    assert any(r.startswith("cache miss: file changed: app/lib.sh (") for r in reasons)
    assert any("an earlier step missed first: [2/4] COPY app/ /app/" in r for r in reasons)

    events = []
    run_build(store, context, events=events, explain_cache=True, build_args={"VERSION": "2"})
    steps = _steps(events)
    assert steps["[2/4] COPY app/ /app/"] == "CACHED"  # the ARG is not used before the RUN
    assert steps["[3/4] RUN echo version=$VERSION > /version"] == "RAN"
    assert any("variable VERSION changed: '1' -> '2'" in r for r in _reasons(events))


def test_touching_a_file_changes_nothing(store: Store, tmp_path: Path) -> None:
    context = _context(tmp_path)
    run_build(store, context)
    (context / "app" / "main.sh").touch()
    events: list = []
    run_build(store, context, events=events)
    assert set(_steps(events).values()) == {"CACHED"}


def test_no_cache_and_no_cache_filter(store: Store, tmp_path: Path) -> None:
    dockerfile = "FROM busybox AS one\nRUN echo 1 > /1\nFROM one AS two\nRUN echo 2 > /2\n"
    context = write_context(tmp_path / "ctx", dockerfile)
    run_build(store, context)
    events: list = []
    run_build(store, context, events=events, no_cache=True)
    assert set(_steps(events).values()) == {"RAN"}
    events = []
    run_build(store, context, events=events, no_cache_filter=["two"])
    assert _steps(events) == {
        "[one 2/2] RUN echo 1 > /1": "CACHED",
        "[two 1/1] RUN echo 2 > /2": "RAN",
    }


def test_cache_survives_prune_but_not_prune_all(store: Store, tmp_path: Path) -> None:
    context = _context(tmp_path)
    run_build(store, context)  # an untagged image: dangling
    store.prune()
    events: list = []
    run_build(store, context, events=events)
    assert set(_steps(events).values()) == {"CACHED"}
    store.prune(all_images=True)
    assert not (store.root / "cache" / "steps").exists()


def test_independent_stages_run_at_the_same_time(store: Store, tmp_path: Path) -> None:
    stages = "".join(f"FROM busybox AS s{i}\nRUN sleep 1 && echo {i} > /out{i}\n" for i in range(4))
    final = "FROM busybox\n" + "".join(f"COPY --from=s{i} /out{i} /\n" for i in range(4))
    context = write_context(tmp_path / "ctx", stages + final)
    started = time.monotonic()
    run_build(store, context, jobs=4)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"four 1 s stages took {elapsed:.1f} s"


def test_a_failing_stage_stops_the_others(store: Store, tmp_path: Path) -> None:
    from builder.errors import BuildError

    dockerfile = (
        "FROM busybox AS slow\nRUN sleep 30\n"
        "FROM busybox AS broken\nRUN exit 5\n"
        "FROM busybox\nCOPY --from=slow /bin/sh /a\nCOPY --from=broken /bin/sh /b\n"
    )
    context = write_context(tmp_path / "ctx", dockerfile)
    started = time.monotonic()
    with pytest.raises(BuildError) as info:
        run_build(store, context, jobs=2)
    assert "exit code: 5" in info.value.message
    assert time.monotonic() - started < 10
    assert not any((store.root / "tmp").iterdir())
