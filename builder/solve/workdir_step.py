"""WORKDIR: the new working directory, made in the image when it is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.dockerfile.commands import WorkdirCommand
from builder.plan.model import Step
from builder.solve.cache.keys import CachedStep
from builder.solve.metadata import resolve_workdir

if TYPE_CHECKING:
    from builder.solve.stages import StageState
    from builder.solve.workspace import Workspace


def set_workdir(state: StageState, step: Step) -> str:
    """Point the config at the step's directory; return the history text."""
    cmd = step.command
    assert isinstance(cmd, WorkdirCommand)
    config = state.config.image.config
    config.working_dir = resolve_workdir(config.working_dir, cmd.path)
    return f"WORKDIR {config.working_dir}"


def workdir_step(ws: Workspace, state: StageState, step: Step) -> CachedStep:
    from builder.runtime.rootpath import mkdir_in_root

    text = set_workdir(state, step)
    with ws.step_work() as work:
        with ws.mounted(state, work) as mounted:
            user = ws.user(mounted.merged, state)
            mkdir_in_root(mounted.merged, state.config.image.config.working_dir, user.uid, user.gid)
        return ws.commit(state, work / "upper", text)
