"""`pybuild diff`: a container's changes (`docker diff CONTAINER`), or two images' differences.

`pybuild diff CONTAINER` is docker's command. `pybuild diff IMAGE1 IMAGE2`
(also `pybuild image diff`) lists the paths whose entries differ between the
two images' root filesystems (`builder.store.rootfs_diff`): `A` only in
IMAGE2, `D` only in IMAGE1, `C` in both but different. Exit 0 either way.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from builder.cli.containers import _fail
from builder.cli.images import open_store
from builder.errors import PybuildError, UsageError

_FORMATS = ("", "json")


def diff_command(
    targets: Annotated[
        list[str],
        typer.Argument(metavar="CONTAINER | IMAGE1 IMAGE2", help="A container, or two images."),
    ],
    output_format: Annotated[
        str,
        typer.Option("--format", metavar="FORMAT", help="'json': one object per path."),
    ] = "",
    ignore_mtime: Annotated[
        bool,
        typer.Option("--ignore-mtime", help="Images: do not count mtime-only changes."),
    ] = False,
) -> None:
    """List changed files: of a container (like `docker diff`), or between two images.

    A added, C changed, D deleted. With two images: what IMAGE2's root
    filesystem has that IMAGE1's has not (A), the reverse (D), and entries
    that differ in type, mode, owner, size, content, link target, xattrs or mtime (C).
    """
    try:
        _check_format(output_format)
        if len(targets) == 1:
            if ignore_mtime:
                raise UsageError("--ignore-mtime compares two images", hint="give IMAGE1 IMAGE2")
            _container_diff(targets[0], output_format)
        elif len(targets) == 2:
            _image_diff(targets[0], targets[1], output_format, ignore_mtime)
        else:
            raise UsageError(
                f"diff takes a container or two images, not {len(targets)} arguments",
                hint="pybuild diff CONTAINER, or pybuild diff IMAGE1 IMAGE2",
            )
    except PybuildError as err:
        _fail(err)


def image_diff_command(
    image1: Annotated[str, typer.Argument(help="The image to compare from.")],
    image2: Annotated[str, typer.Argument(help="The image to compare to.")],
    output_format: Annotated[
        str,
        typer.Option("--format", metavar="FORMAT", help="'json': one object per path."),
    ] = "",
    ignore_mtime: Annotated[
        bool, typer.Option("--ignore-mtime", help="Do not count mtime-only changes.")
    ] = False,
) -> None:
    """List the paths that differ between two images' root filesystems (A, C, D)."""
    try:
        _check_format(output_format)
        _image_diff(image1, image2, output_format, ignore_mtime)
    except PybuildError as err:
        _fail(err)


def _check_format(output_format: str) -> None:
    if output_format not in _FORMATS:
        raise UsageError(f"--format {output_format!r}: expected json (or nothing, for text)")


def _image_diff(first: str, second: str, output_format: str, ignore_mtime: bool) -> None:
    import json

    from builder.store.rootfs_diff import diff_images

    store = open_store()
    changes = diff_images(
        store, store.resolve(first), store.resolve(second), ignore_mtime=ignore_mtime
    )
    if output_format == "json":
        sys.stdout.write("".join(json.dumps(c.to_json(), sort_keys=True) + "\n" for c in changes))
    else:
        sys.stdout.write("".join(f"{change}\n" for change in changes))


def _container_diff(name: str, output_format: str) -> None:
    import json

    from builder.containers.diff import changes
    from builder.containers.record import ContainerStore

    store = open_store()
    containers = ContainerStore(store.root)
    found = containers.find(name)
    lowers = [store.snapshot_path(chain) for chain in found.chains]
    upper = containers.directory(found.id) / "rootfs" / "upper"
    found_changes = changes(upper, lowers)
    if output_format == "json":
        lines = [json.dumps({"kind": c.kind, "path": c.path}) for c in found_changes]
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        sys.stdout.write("".join(f"{change}\n" for change in found_changes))
