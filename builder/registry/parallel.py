"""Run blob transfers a few at a time; the first failure cancels the rest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a job when another job failed and the batch is stopping."""


def run_jobs(items: Sequence[T], job: Callable[[T, threading.Event], None], jobs: int) -> None:
    """Call `job(item, cancel)` for each item on up to `jobs` threads.

    When a job raises, `cancel` is set (jobs should check it and raise
    Cancelled), jobs not yet started are dropped, and that first real
    error is raised once the running ones have stopped.
    """
    cancel = threading.Event()
    if len(items) <= 1 or jobs <= 1:
        for item in items:
            job(item, cancel)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(items))) as pool:
        futures = [pool.submit(job, item, cancel) for item in items]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        if all(f.exception() is None for f in done):
            return
        cancel.set()
        for future in pending:
            future.cancel()
        wait(pending)
    errors = [e for f in futures if not f.cancelled() and (e := f.exception()) is not None]
    raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
