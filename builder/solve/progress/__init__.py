"""What a build reports while it runs, and the renderers that show it.

The executor emits events (`StepStarted`, `StepOutput`, ... in `events`); a
renderer shows them. Events may come from several threads at once (stages
run in parallel), so every renderer is thread-safe. `make_reporter` picks
one for `--progress`:

- `plain` (`plain.PlainProgress`): BuildKit's `--progress=plain` format, for
  CI logs: `#N name`, `#N 0.123 output line`, `#N DONE 0.4s`, `#N CACHED`,
  `#N ERROR: ...`, `#N CANCELED`.
- `tty` (`tty.TtyProgress`): a live display like BuildKit's: a
  `[+] Building 12.3s (5/9)` header, one line per started step with a
  running timer, the tail of a running step's output dimmed under it, and a
  static summary once the build ends.
- `rawjson` (`rawjson.RawJsonProgress`): one JSON object per line, per event
  (the schema is in `rawjson`).
- `quiet`: nothing. `auto`: `tty` on a terminal outside CI, else `plain`.

A renderer must be closed (`close()`, or use it as a context manager) so a
live display stops and leaves its summary; closing twice is harmless:

    with make_reporter("auto", sys.stderr) as report:
        build(store, request, progress=report)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

from builder.solve.progress.base import ProgressRenderer, QuietProgress
from builder.solve.progress.events import (
    BuildStarted,
    Event,
    Reporter,
    StepCanceled,
    StepDone,
    StepFailed,
    StepLog,
    StepOutput,
    StepStarted,
    no_progress,
)
from builder.solve.progress.plain import PlainProgress
from builder.solve.progress.rawjson import RawJsonProgress

__all__ = [
    "MODES",
    "BuildStarted",
    "Event",
    "PlainProgress",
    "ProgressRenderer",
    "QuietProgress",
    "RawJsonProgress",
    "Reporter",
    "StepCanceled",
    "StepDone",
    "StepFailed",
    "StepLog",
    "StepOutput",
    "StepStarted",
    "choose_mode",
    "make_reporter",
    "no_progress",
]

MODES = ("auto", "plain", "tty", "rawjson", "quiet")


def choose_mode(mode: str, stream: TextIO, environ: Mapping[str, str] | None = None) -> str:
    """The renderer `mode` means on `stream`: `auto` becomes `tty` or `plain`."""
    if mode not in MODES:
        raise ValueError(f"unknown progress mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    env = os.environ if environ is None else environ
    in_ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return "tty" if _isatty(stream) and not in_ci and env.get("TERM") != "dumb" else "plain"


def make_reporter(
    mode: str, stream: TextIO, *, environ: Mapping[str, str] | None = None
) -> ProgressRenderer:
    """The renderer for `--progress mode` writing to `stream`; close it after the build.

    `auto` is `tty` when `stream` is a terminal, `CI` is unset (or empty,
    "0", "false", "no") and `TERM` is not "dumb"; otherwise `plain`.
    `environ` defaults to `os.environ`. An unknown mode raises ValueError.
    """
    chosen = choose_mode(mode, stream, environ)
    if chosen == "plain":
        return PlainProgress(stream)
    if chosen == "tty":
        # imported here, not at the top: rich costs start-up time to every command
        from builder.solve.progress.tty import TtyProgress

        return TtyProgress(stream)
    if chosen == "rawjson":
        return RawJsonProgress(stream)
    return QuietProgress()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False
