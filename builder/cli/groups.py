"""Docker's management-command groups: `pybuild image ...` and `pybuild builder ...`.

`image ls|inspect|history|rm|tag|prune|pull|push|save|load|import` are the
top-level commands under docker's group names, with the same options;
`image diff IMAGE1 IMAGE2` is `pybuild diff` of two images.
`builder prune` removes the build cache only (`docker builder prune`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from builder.cli import diff, images, transfer
from builder.cli.images import _confirm, _fail, open_store
from builder.errors import PybuildError

image_app = typer.Typer(
    name="image", help="Manage images (docker's `image` commands).", no_args_is_help=True,
    add_completion=False,
)  # fmt: skip
builder_app = typer.Typer(
    name="builder", help="Manage the build cache.", no_args_is_help=True, add_completion=False
)

for _names, _command in (
    (("ls", "list"), images.images_command),
    (("inspect",), images.inspect_command),
    (("history",), images.history_command),
    (("rm", "remove"), images.rmi_command),
    (("tag",), images.tag_command),
    (("prune",), images.prune_command),
    (("pull",), transfer.pull_command),
    (("push",), transfer.push_command),
    (("save",), transfer.save_command),
    (("load",), transfer.load_command),
    (("import",), transfer.import_command),
    (("diff",), diff.image_diff_command),
):
    for _name in _names:
        image_app.command(_name, hidden=_name != _names[0])(_command)


@builder_app.command("prune")
def builder_prune_command(
    all_cache: Annotated[
        bool, typer.Option("--all", "-a", help="Remove all build cache (the same here).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask to confirm.")] = False,
) -> None:
    """Remove the build cache; images stay (like `docker builder prune`)."""
    from builder.image.views import human_size

    warning = (
        "WARNING! This will remove all build cache."
        if all_cache
        else "WARNING! This will remove all dangling build cache."
    )
    if not force and not _confirm(warning):
        return
    try:
        report = open_store().prune(build_cache_only=True)
    except PybuildError as err:
        _fail(err)
        return
    sys.stdout.write(f"Total reclaimed space: {human_size(report.reclaimed_bytes)}\n")
