"""Applying a cached step result to a stage, as if the step had run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.dockerfile.commands import AddCommand, CopyCommand, RunCommand
from builder.image.digest import chain_ids
from builder.plan.model import Step
from builder.solve.cache.keys import CachedStep
from builder.solve.commit import add_history, add_layer
from builder.solve.metadata import CONFIG_ONLY_KINDS, apply_config_step, copy_history
from builder.solve.run_step import run_text
from builder.solve.workdir_step import set_workdir

if TYPE_CHECKING:
    from builder.solve.stages import StageState
    from builder.store import Store


def restore_step(store: Store, state: StageState, step: Step, hit: CachedStep, where: str) -> bool:
    """Apply a cached result; False if its layer is gone (then the step runs)."""
    if hit.layer is not None and (hit.diff_id is None or not store.has_blob(hit.layer.digest)):
        return False
    if step.kind in CONFIG_ONLY_KINDS:
        text = apply_config_step(state.config, step, where)
        if text is not None:
            add_history(state, text, empty=True, created=hit.created)
        return True
    cmd = step.command
    if step.kind == "workdir":
        text = set_workdir(state, step)
    elif isinstance(cmd, RunCommand):
        text = run_text(state.config, step)
    else:
        assert isinstance(cmd, CopyCommand | AddCommand)
        text = copy_history(cmd)
    if hit.layer is None or hit.diff_id is None:
        add_history(state, text, empty=True, created=hit.created)
        return True
    diff_ids = [*state.config.image.diff_ids, hit.diff_id]
    snapshot = store.ensure_layer_snapshot(chain_ids(diff_ids)[-1], hit.layer, hit.diff_id)
    state.snapshots.append(snapshot)
    add_layer(state, hit.layer, hit.diff_id, text, hit.created)
    return True
