"""Per-blob progress of a pull or push, as `docker pull`/`docker push` show it.

On a terminal: one live line per blob (rich), with a bar while bytes move.
Elsewhere (CI logs, pipes): one plain line per state change, never per
byte, so logs stay short. `-q` shows nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from builder.registry.progress import ProgressEvent

_PULL_WORDS = {
    "waiting": "Waiting",
    "downloading": "Downloading",
    "verifying": "Verifying Checksum",
    "done": "Pull complete",
    "exists": "Already exists",
}
_PUSH_WORDS = {
    "waiting": "Waiting",
    "uploading": "Pushing",
    "verifying": "Pushing",
    "done": "Pushed",
    "exists": "Layer already exists",
    "mounted": "Mounted from another repository",
}


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


class TransferProgress:
    """A callback for `pull`/`push` (thread-safe) and a context manager around it."""

    def __init__(self, action: str, *, quiet: bool = False, stream: TextIO | None = None):
        self.words = _PULL_WORDS if action == "pull" else _PUSH_WORDS
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.last: dict[str, str] = {}
        self.live: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> TransferProgress:
        if not self.quiet and self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self.live = Progress(
                TextColumn("{task.fields[blob]}: {task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=False),
                console=Console(file=self.stream),
                transient=False,
            )
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def __call__(self, event: ProgressEvent) -> None:
        if self.quiet or event.kind in ("index", "manifest"):
            return
        word = self.words.get(event.state)
        if word is None:
            return
        with self.lock:
            if self.live is not None:
                self._live_update(event, word)
            elif self.last.get(event.digest) != word:
                self.last[event.digest] = word
                self.stream.write(f"{short_id(event.digest)}: {word}\n")
                self.stream.flush()

    def _live_update(self, event: ProgressEvent, word: str) -> None:
        task = self.tasks.get(event.digest)
        if task is None:
            task = self.live.add_task(word, total=event.total or None, blob=short_id(event.digest))
            self.tasks[event.digest] = task
        completed = event.done
        if event.state in ("done", "exists", "mounted"):
            completed = event.total
        self.live.update(task, description=word, completed=completed)

    def say(self, text: str) -> None:
        """A line outside the per-blob display (summary, digest)."""
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()
