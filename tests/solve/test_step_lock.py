"""The build cache's step lock: builds that miss the same key at once run the step once.

Real builds through `builder.build`, in threads against one store: the
second build waits on the key's lock while the first runs the step, then
finds its result in the cache. A build stopped while it waits gives up at
once, and the step it waited for goes on in the other build.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import builder
from builder.api import BuildRequest
from builder.errors import BuildCancelled
from builder.solve.progress import Event, StepDone, StepOutput, StepStarted
from builder.store import Store
from tests.solve.building import busybox_store

SHARED = "FROM busybox\nRUN echo ran-once && sleep 2 && echo done > /shared\n"


@pytest.fixture
def store(tmp_path: Path, busybox_rootfs_tar: Path) -> Store:
    return busybox_store(tmp_path / "store", busybox_rootfs_tar)


def _build(
    store: Store, context: Path, events: list[Event], **options: object
) -> builder.BuildResult:
    request = BuildRequest(context, dockerfile=SHARED.encode(), progress=events.append, **options)  # type: ignore[arg-type]
    return builder.build(request, store=store)


def test_two_builds_run_a_shared_step_once(tmp_path: Path, store: Store) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    logs: list[list[Event]] = [[], []]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda log: _build(store, context, log), logs))
    assert results[0].image_id == results[1].image_id
    ran = []
    for log in logs:
        run = next(e.vertex for e in log if isinstance(e, StepStarted) and "RUN" in e.name)
        done = next(e for e in log if isinstance(e, StepDone) and e.vertex == run)
        printed = any(isinstance(e, StepOutput) and b"ran-once" in e.data for e in log)
        ran.append((done.cached, printed))
    assert sorted(ran) == [(False, True), (True, False)]  # one ran it, the other reused it


def test_a_build_waiting_on_the_lock_can_be_cancelled(tmp_path: Path, store: Store) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    first_events: list[Event] = []
    first = threading.Thread(target=_build, args=(store, context, first_events))
    first.start()
    while not any(isinstance(e, StepOutput) for e in first_events):  # the RUN is running
        time.sleep(0.05)
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BuildCancelled):
        _build(store, context, [], cancel=cancel)
    assert time.monotonic() - started < 1.5  # it did not wait for the 2 s step
    first.join()
    done = [e for e in first_events if isinstance(e, StepDone)]
    assert done and not done[-1].cached  # the first build finished its step
