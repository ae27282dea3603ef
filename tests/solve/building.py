"""Helpers for build tests: a store with the busybox base, building, reading the result."""

from __future__ import annotations

import textwrap
from pathlib import Path

from builder.export.rootfs_import import import_rootfs
from builder.snapshot.apply import apply_layer
from builder.solve.executor import build
from builder.solve.progress import Event
from builder.solve.request import SolveRequest, SolveResult
from builder.store import ImageRecord, Store

CREATED = "2024-01-01T00:00:00Z"


def busybox_store(root: Path, rootfs_tar: Path) -> Store:
    store = Store.open(root)
    import_rootfs(store, rootfs_tar, "busybox:latest", created=CREATED)
    return store


def write_context(
    context: Path, dockerfile: str, files: dict[str, str | bytes] | None = None
) -> Path:
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for name, data in (files or {}).items():
        path = context / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    return context


def run_build(
    store: Store,
    context: Path,
    *,
    tags: list[str] | None = None,
    events: list[Event] | None = None,
    **options: object,
) -> SolveResult:
    request = SolveRequest(
        dockerfile=(context / "Dockerfile").read_bytes(),
        context_dir=context,
        dockerfile_name="Dockerfile",
        dockerfile_path=context / "Dockerfile",
        tags=tags or [],
        environ={},
        **options,  # type: ignore[arg-type]
    )
    return build(store, request, progress=events.append if events is not None else _ignore)


def _ignore(event: Event) -> None:
    pass


def flatten(store: Store, record: ImageRecord, dest: Path) -> Path:
    """The image's root filesystem, its layers applied in order (whiteouts delete)."""
    dest.mkdir(parents=True, exist_ok=True)
    for layer in store.manifest(record).layers:
        with store.open_blob(layer.digest) as stream:
            apply_layer(stream, dest, compression="auto")
    return dest


def layer_names(store: Store, record: ImageRecord, index: int) -> list[str]:
    """Entry names of one layer, as stored."""
    import tarfile

    layer = store.manifest(record).layers[index]
    with store.open_blob(layer.digest) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        return [member.name for member in tar]


def output_of(events: list[Event]) -> str:
    from builder.solve.progress import StepOutput

    return b"".join(e.data for e in events if isinstance(e, StepOutput)).decode()
