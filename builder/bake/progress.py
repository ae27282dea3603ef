"""One progress display for every target of a bake.

Each build numbers its steps from 1, so two targets' `#3` would collide on
one display. `SharedProgress.reporter(target)` gives each build a reporter
that renumbers its vertices into one sequence and tags each step event
with the target (rawjson's `"target"`, the plain/tty name `[web 2/3] ...`).
The `BuildStarted` total is the sum over the builds that have started.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from builder.solve.progress import BuildStarted, Event


@dataclass
class SharedProgress:
    """Routes the events of several builds to one renderer (`sink`); thread-safe."""

    sink: Callable[[Event], None]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _vertices: dict[tuple[str, int], int] = field(default_factory=dict)
    _totals: dict[str, int] = field(default_factory=dict)

    def reporter(self, target: str) -> Callable[[Event], None]:
        """The reporter to give the build of `target` (a plain callable, never closed by it)."""

        def report(event: Event) -> None:
            with self._lock:
                if isinstance(event, BuildStarted):
                    self._totals[target] = event.total_steps
                    shared: Event = BuildStarted(sum(self._totals.values()))
                else:
                    key = (target, event.vertex)
                    if key not in self._vertices:
                        self._vertices[key] = len(self._vertices) + 1
                    shared = dataclasses.replace(event, vertex=self._vertices[key], target=target)
                self.sink(shared)  # under the lock: events stay in the order they happened

        return report
