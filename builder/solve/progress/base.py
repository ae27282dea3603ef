"""What every progress renderer is: a thread-safe reporter that is closed after the build."""

from __future__ import annotations

from typing import Self

from builder.solve.progress.events import Event


class ProgressRenderer:
    """A thread-safe reporter to close when the build ends (`with` closes it)."""

    def __call__(self, event: Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop showing progress (a live display leaves its summary); idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class QuietProgress(ProgressRenderer):
    """Report nothing."""

    def __call__(self, event: Event) -> None:
        pass
