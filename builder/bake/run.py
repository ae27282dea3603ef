"""Build every target of a bake in one process, in parallel, on one store.

Each target is one `builder.build` call in a thread of a pool of `jobs`
(default: every target at once). A target that uses another one's image
as a context (`contexts = { base = "target:base" }`) waits for it: the
targets are built in rounds (`waves`), and its `target:base` becomes
`docker-image://<the image ID base made>`. The builds share the store, so a step
that two targets have in common (same cache key: the same base, the same
instruction, the same files) runs once: the step lock of the build cache
makes the second build wait for the first and then take its result.

All builds share one stop event: the first target that fails sets it, so
the others stop at once (their running steps are killed and reported
CANCELED), and `bake` raises `BakeFailed` naming that target. A caller's
`cancel` (SIGINT) stops everything the same way and raises BuildCancelled.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from builder.bake.progress import SharedProgress
from builder.bake.requests import LINK, TargetBuild, build_request
from builder.bake.resolve import Resolved
from builder.errors import BuildCancelled, PybuildError, UsageError

if TYPE_CHECKING:
    from builder.api import BuildRequest, BuildResult, BuildWarning
    from builder.solve.progress import Event
    from builder.store import Store


class BakeFailed(PybuildError):
    """A target failed; the others were stopped. `error` is the target's own error."""

    def __init__(self, target: str, error: PybuildError):
        super().__init__(f"target {target!r} failed: {error.message}", error.location, error.hint)
        self.target = target
        self.error = error
        self.exit_code = error.exit_code

    def render(self) -> str:
        return f"target {self.target!r} failed:\n{self.error.render()}"


class _Either(threading.Event):
    """Set while either event is (a build polls `is_set`); never set itself."""

    def __init__(self, first: threading.Event, second: threading.Event | None) -> None:
        super().__init__()
        self.first, self.second = first, second

    def is_set(self) -> bool:
        return self.first.is_set() or (self.second is not None and self.second.is_set())


@dataclass
class TargetResult:
    name: str
    result: BuildResult


def requests_for(
    resolved: Resolved,
    *,
    cwd: Path,
    environ: Mapping[str, str] | None = None,
    allow: Sequence[str] = (),
) -> dict[str, TargetBuild]:
    """Every target's request, checked before anything is built (UsageError when one is wrong)."""
    return {
        name: build_request(resolved.targets[name], cwd=cwd, environ=environ, allow=allow)
        for name in resolved.order
    }


def bake(
    requests: dict[str, TargetBuild],
    *,
    store: Store | None = None,
    jobs: int = 0,
    progress: Callable[[Event], None] | None = None,
    warn: Callable[[str, BuildWarning], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[TargetResult]:
    """Build the requests (target name -> request) at once; results in the requests' order."""
    from builder.api import build

    if store is None:
        from builder.store import Store

        store = Store.open()
    stop = threading.Event()  # set by the first failure; the caller's cancel is polled too
    session: set[str] = set()  # steps run by this bake: shared even under --no-cache
    shared = SharedProgress(progress) if progress is not None else None
    failures: list[tuple[str, PybuildError]] = []
    lock = threading.Lock()

    def one(name: str, request: BuildRequest) -> BuildResult | None:
        request = dataclasses.replace(
            request,
            cancel=_Either(stop, cancel),
            session_keys=session,
            progress=shared.reporter(name) if shared is not None else None,
            warn=(lambda w: warn(name, w)) if warn is not None else None,
        )
        if request.cancel is not None and request.cancel.is_set():
            return None
        try:
            with ExitStack() as fetched:
                remote = requests[name].remote
                if remote is not None:
                    request = _fetched(request, remote, requests[name].dockerfile, store, fetched)
                return build(request, store=store)
        except BuildCancelled:
            if not stop.is_set() and not (cancel is not None and cancel.is_set()):
                raise
            return None
        except PybuildError as err:
            with lock:
                failures.append((name, err))
            stop.set()
            return None
        except BaseException:  # a bug, or an interrupt: stop the others, then re-raise
            stop.set()
            raise

    names = list(requests)
    results: dict[str, BuildResult | None] = {}
    workers = max(1, min(jobs or len(names), len(names)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bake") as pool:
        for wave in waves(requests):
            if stop.is_set() or (cancel is not None and cancel.is_set()):
                break
            ready = [_with_links(requests[n].request, results) for n in wave]
            results.update(zip(wave, pool.map(one, wave, ready), strict=True))
    if failures:
        target, error = failures[0]
        raise BakeFailed(target, error)
    if cancel is not None and cancel.is_set():
        raise BuildCancelled()
    return [TargetResult(n, r) for n in names if (r := results.get(n)) is not None]


def _fetched(
    request: BuildRequest, url: str, dockerfile: str, store: Store, stack: ExitStack
) -> BuildRequest:
    """`request` with its remote context fetched into the store (removed with `stack`)."""
    from builder.solve.remote_context import fetched_context

    remote = stack.enter_context(fetched_context(url, store))
    if isinstance(request.dockerfile, bytes):  # dockerfile-inline
        return dataclasses.replace(request, context=remote.root)
    if remote.dockerfile is not None:  # a download that is no archive: the Dockerfile
        return dataclasses.replace(request, context=remote.root, dockerfile=remote.dockerfile)
    return dataclasses.replace(request, context=remote.root, dockerfile=remote.root / dockerfile)


def links(request: BuildRequest) -> list[str]:
    """The targets whose images `request` uses as contexts (`NAME=target:OTHER`)."""
    return [
        value.split("=", 1)[1].removeprefix(LINK)
        for value in request.build_contexts
        if value.split("=", 1)[1].startswith(LINK)
    ]


def waves(requests: Mapping[str, TargetBuild]) -> list[list[str]]:
    """The targets in rounds: each round needs only the images of the rounds before it."""
    level: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...]) -> int:
        if name not in level:
            if name in seen:
                raise UsageError(f"infinite loop from {seen[-1]} to {name}")
            deps = [d for d in links(requests[name].request) if d in requests]
            level[name] = 1 + max((depth(d, (*seen, name)) for d in deps), default=-1)
        return level[name]

    for name in requests:
        depth(name, ())
    rounds: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name in requests:
        rounds[level[name]].append(name)
    return rounds


def _with_links(request: BuildRequest, done: Mapping[str, BuildResult | None]) -> BuildRequest:
    """`request` with its `target:` contexts pointing at the images those targets made."""
    contexts = []
    for value in request.build_contexts:
        key, _, source = value.partition("=")
        if source.startswith(LINK):
            result = done.get(source.removeprefix(LINK))
            if result is None:  # it did not build (the bake is stopping)
                return request
            source = f"docker-image://{result.image_id}"
        contexts.append(f"{key}={source}")
    return dataclasses.replace(request, build_contexts=contexts)
