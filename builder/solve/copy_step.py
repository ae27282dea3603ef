"""COPY and ADD: files from the context, another stage, heredocs or the network, as a layer.

The typed command is already expanded (paths, flags, heredoc bodies); the
file work is `builder.solve.copy`'s. With SOURCE_DATE_EPOCH, what comes
from the build context (files, heredocs, downloads) gets the epoch as its
mtime; archive members and files of a stage or an image keep theirs, and
the layer writer clamps them to the epoch. With `--link` the files go into an
empty tree that becomes the layer on its own, as BuildKit does.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from builder.dockerfile.commands import AddCommand, CopyCommand
from builder.plan.model import Step
from builder.solve.cache.keys import CachedStep
from builder.solve.metadata import copy_history
from builder.solve.named_context import named_ignore

if TYPE_CHECKING:
    from builder.solve.stages import StageState
    from builder.solve.workspace import Workspace


def copy_step(ws: Workspace, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
    # the COPY/ADD machinery (archives, git, URLs) loads on first use (start-up time)
    from builder.solve.copy.add import add_into
    from builder.solve.copy.files import copy_into
    from builder.solve.copy.request import CopyRequest, InlineFile

    cmd = step.command
    assert isinstance(cmd, CopyCommand | AddCommand)
    from_ = cmd.from_ if isinstance(cmd, CopyCommand) else None
    link = cmd.link and cmd.chmod is None  # BuildKit drops --link with --chmod
    src_root = ws.readonly_root(from_, stack) if from_ else ws.request.context_dir
    named = ws.named_dir(from_) if from_ else None  # a directory: files as from the context
    # SOURCE_DATE_EPOCH: files from a context directory (mtimes of a checkout, in no cache
    # key) get the epoch; a stage's or an image's keep theirs, clamped when the layer is written
    epoch = ws.request.source_date_epoch if not from_ or named is not None else None
    ignore = ws.ignore if not from_ else named_ignore(named) if named is not None else None
    with ws.step_work() as work:
        with ws.mounted(state, work) as mounted:
            root = mounted.merged
            dest_root = root
            if link:
                dest_root = work / "link"
                dest_root.mkdir()
            request = CopyRequest(
                sources=tuple(cmd.sources),
                dest=cmd.dest,
                workdir=state.config.image.config.working_dir or "/",
                src_root=src_root,
                ignore=ignore,
                heredocs=tuple(InlineFile(h.name, h.content.encode()) for h in cmd.heredocs),
                chown=cmd.chown,
                chmod=cmd.chmod,
                excludes=tuple(cmd.excludes),
                timestamp_ns=epoch * 1_000_000_000 if epoch is not None else None,
                user_root=root,
                work_dir=work,
            )
            if isinstance(cmd, AddCommand):
                report = add_into(
                    dest_root,
                    request,
                    checksum=cmd.checksum,
                    keep_git_dir=True if cmd.keep_git_dir else None,
                    unpack=cmd.unpack,
                )
                ws.materials.extend(report.remote)
            else:
                copy_into(
                    dest_root,
                    request,
                    parents=cmd.parents,
                    source_is_context=from_ is None or named is not None,
                )
        tree = dest_root if link else work / "upper"
        return ws.commit(state, tree, copy_history(cmd), overlay=not link)
