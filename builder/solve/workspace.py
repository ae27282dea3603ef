"""What the steps of one build work with: the store, the request, scratch space, `--from` roots.

One `Workspace` per build; the step modules (`run_step`, `copy_step`,
`workdir_step`) take it with the stage's state and the planned step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import Location
from builder.solve.cache.keys import CachedStep
from builder.solve.commit import commit_tree, timestamp

if TYPE_CHECKING:
    from builder.context.dockerignore import IgnoreMatcher
    from builder.runtime.users import ResolvedUser
    from builder.snapshot.overlay import OverlayRoot
    from builder.solve.progress import Reporter
    from builder.solve.request import SolveRequest
    from builder.solve.stages import StageState
    from builder.store import Store


@dataclass
class Workspace:
    store: Store
    request: SolveRequest
    progress: Reporter
    cancel: threading.Event  #: set when the build stops: running steps are killed
    ignore: IgnoreMatcher | None  #: the context's .dockerignore
    lines: list[str]  #: the Dockerfile's lines, for error locations
    #: the overlay lower dirs of a `--from` name (a stage or an image)
    lowers_of: Callable[[str], list[Path]]
    #: remote sources ADD fetched: (URI, digest), for provenance materials
    materials: list[tuple[str, str]] = field(default_factory=list)

    def created(self) -> str:
        return timestamp(self.request.source_date_epoch)

    def location(self, line: int) -> Location:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return Location(self.request.dockerfile_name, line, source_line=source)

    def where(self, line: int) -> str:
        return f"{self.request.dockerfile_name}:{line}"

    @contextmanager
    def step_work(self) -> Iterator[Path]:
        """A private work dir in the store's tmp/, deleted at the end (after the commit)."""
        from builder.snapshot.overlay import remove_work_dir

        work = self.store.temp_dir("step")
        try:
            yield work
        finally:
            remove_work_dir(work)

    def runtime_root(self) -> Path:
        """The runtime's state root in the store, where recovery finds killed builds' containers."""
        return self.store.runtime_root(self.request.runtime)

    @staticmethod
    def owner() -> str:
        """This process's owner tag (`<pid>-<start>`) for container ids and bundle names."""
        from builder.store.owners import current_owner

        return current_owner().tag

    @staticmethod
    def mounted(state: StageState, work: Path) -> AbstractContextManager[OverlayRoot]:
        """A writable overlay over the stage at `work/merged`; changes land in `work/upper`."""
        from builder.snapshot.overlay import overlay_root

        return overlay_root(state.snapshots, work)

    def named_dir(self, name: str) -> Path | None:
        """The directory of a named local context `--from` names, else None."""
        from builder.plan.named_contexts import context_name

        named = self.request.contexts.get(context_name(name))
        return named.path if named is not None else None

    def readonly_root(self, name: str, stack: ExitStack) -> Path:
        """A read-only tree of a stage (by name or index), an image or a named directory."""
        from builder.snapshot.overlay import overlay_root, remove_work_dir

        directory = self.named_dir(name)
        if directory is not None:
            return directory  # only read: COPY reads it, a RUN bind mount is read-only or a copy
        lowers = self.lowers_of(name)
        work = self.store.temp_dir("from")
        stack.callback(remove_work_dir, work)
        return stack.enter_context(overlay_root(lowers, work, writable=False)).merged

    @staticmethod
    def user(root: Path, state: StageState) -> ResolvedUser:
        from builder.runtime.users import resolve_user

        return resolve_user(root, state.config.image.config.user)

    def commit(
        self, state: StageState, tree: Path, text: str, *, overlay: bool = True
    ) -> CachedStep:
        return commit_tree(
            self.store, state, tree, text, epoch=self.request.source_date_epoch, overlay=overlay
        )
