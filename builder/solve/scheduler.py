"""Running the stages of a plan: wave after wave, the stages of a wave at once.

A wave holds stages that do not depend on each other (`BuildPlan.waves`).
The first failure sets the build's stop event, so the other stages stop
(their running step is killed), and is the error reported. An exception in
the waiting thread itself (KeyboardInterrupt) stops them too before it
propagates.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def default_jobs() -> int:
    """Stages run at once by default: the CPU count, but at least 4.

    A stage mostly waits (on downloads, `sleep`, the disk), so two cores can
    serve four stages; BuildKit sets no limit at all.
    """
    return max(4, os.cpu_count() or 1)


def run_wave(
    items: Sequence[T],
    run: Callable[[T], None],
    *,
    jobs: int,
    cancel: threading.Event,
) -> None:
    """`run` every item, up to `jobs` at once; re-raise the first failure."""
    if len(items) == 1 or jobs == 1:
        for item in items:
            run(item)
        return
    # the thread pool costs ~5 ms to import: a one-stage build never needs it
    from concurrent.futures import ThreadPoolExecutor, as_completed

    first: BaseException | None = None
    with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = [pool.submit(run, item) for item in items]
        try:
            for future in as_completed(futures):
                try:
                    future.result()
                except BaseException as err:  # the first failure is re-raised below
                    if first is None:
                        first = err
                        cancel.set()
        except BaseException:
            # Interrupted while waiting (KeyboardInterrupt): stop the stages, so
            # leaving the pool, which joins them, takes a moment and not a step.
            cancel.set()
            raise
    if first is not None:
        raise first
