"""A stage as far as it has run, and where stages and `--from` names start from.

Each stage starts from its base: an image from the store (pulled when it is
missing, as `docker build` does), another stage, or scratch. `Bases` looks
base images up once per build, thread-safely, since stages run at once.
`find_stage` is the one place that turns a `--from` name (a stage name, a
stage index) into a stage; anything else names an image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import BuildError, PybuildError
from builder.image.model import Descriptor, ImageConfig
from builder.solve.metadata import StageConfig, start_stage

if TYPE_CHECKING:
    from builder.plan.model import BuildPlan, PlannedStage
    from builder.store import ImageRecord, Store


@dataclass
class StageState:
    """A stage as far as it has run."""

    config: StageConfig
    layers: list[Descriptor] = field(default_factory=list)
    snapshots: list[Path] = field(default_factory=list)  #: overlay lower dirs, base first
    key: str = ""  #: cache key of the last step (the base's manifest digest at FROM)
    missed: str | None = None  #: the first step of this stage's chain that missed the cache

    def copy(self) -> StageState:
        image = ImageConfig.from_bytes(self.config.image.to_bytes())
        config = StageConfig(image, self.config.cmd_set, list(self.config.arg_names))
        return StageState(config, list(self.layers), list(self.snapshots), self.key, self.missed)


def find_stage(plan: BuildPlan, name: str) -> PlannedStage | None:
    """The stage a `--from` value names (`builder`, `0`), or None for an image name."""
    try:
        return plan.stage(int(name) if name.isdigit() else name)
    except (KeyError, IndexError):
        return None


class Bases:
    """Base images of one build: looked up (or pulled) once, shared by its stages."""

    def __init__(self, store: Store, *, pull: bool) -> None:
        self.store = store
        self.pull = pull  #: pull again even when the store has the image (`--pull`)
        self._records: dict[str, ImageRecord] = {}
        self._lock = threading.Lock()

    def record(self, name: str) -> ImageRecord:
        """The image `name` from the store, pulled when missing."""
        with self._lock:
            if name not in self._records:
                self._records[name] = self._find_or_pull(name)
            return self._records[name]

    def resolved(self) -> dict[str, str]:
        """Each image name looked up so far, and the manifest digest it resolved to."""
        with self._lock:
            return {name: record.manifest_digest for name, record in self._records.items()}

    def config(self, name: str) -> ImageConfig | None:
        """The image config of a base (None for scratch): the plan reads its ENV and ONBUILD."""
        if name == "scratch":
            return None
        return self.store.config(self.record(name))

    def _find_or_pull(self, name: str) -> ImageRecord:
        record = None if self.pull else self.store.find(name)
        if record is not None:
            return record
        from builder.registry.pull import pull  # only builds that pull pay for the client

        try:
            return pull(self.store, name)
        except PybuildError as err:
            raise BuildError(
                f'base image "{name}" is not in the local store, and pulling it failed: '
                f"{err.message}",
                hint="import it (`pybuild import ROOTFS.tar NAME`), load it "
                "(`pybuild load -i FILE`), or pull it from a registry you can reach",
            ) from None

    @staticmethod
    def scratch(stage: PlannedStage, plan: BuildPlan) -> StageState:
        """The empty image of the stage's platform."""
        from builder.image.platform import parse_platform  # only `FROM scratch` needs it

        platform = parse_platform(stage.platform or plan.platform)
        image = ImageConfig(
            architecture=platform.architecture, os=platform.os, variant=platform.variant
        )
        return StageState(start_stage(image), key=f"scratch:{platform}")

    def start(
        self, stage: PlannedStage, plan: BuildPlan, done: dict[int, StageState]
    ) -> StageState:
        """The state a stage starts in, right after its FROM."""
        base = stage.base
        if base.kind == "stage" and base.stage_index is not None:
            return done[base.stage_index].copy()
        if base.kind == "scratch":
            return self.scratch(stage, plan)
        record = self.record(base.name)
        state = StageState(start_stage(self.store.config(record)), key=record.manifest_digest)
        state.config.image.config.on_build = None  # triggers run once, in this build
        state.layers = list(self.store.manifest(record).layers)
        state.snapshots = self.store.ensure_snapshots(record)
        return state
