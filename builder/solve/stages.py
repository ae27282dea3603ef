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
    """Base images of one build: looked up (or pulled) once per platform, shared by its stages.

    A name that holds several platforms (an index) gives the image of the
    platform asked for; a name with no image for it is a BuildError naming
    the platforms it has, never another platform's image.
    """

    def __init__(self, store: Store, *, pull: bool, platform: str) -> None:
        self.store = store
        self.pull = pull  #: pull again even when the store has the image (`--pull`)
        self.platform = platform  #: the build's target platform (a stage may name another)
        self._records: dict[tuple[str, str], ImageRecord] = {}
        self._lock = threading.Lock()

    def record(self, name: str, platform: str | None = None) -> ImageRecord:
        """The image `name` for `platform` (default: the target's), pulled when missing."""
        wanted = platform or self.platform
        with self._lock:
            if (name, wanted) not in self._records:
                self._records[name, wanted] = self._find_or_pull(name, wanted)
            return self._records[name, wanted]

    def used(self) -> dict[str, ImageRecord]:
        """The images looked up so far, by the name asked for (the target platform's)."""
        with self._lock:
            return {name: record for (name, _), record in self._records.items()}

    def resolved(self) -> dict[str, str]:
        """Each image name looked up so far, and the manifest digest it resolved to.

        A name resolved for two platforms to two images maps to "" (matches nothing).
        """
        found: dict[str, str] = {}
        with self._lock:
            for (name, _), record in self._records.items():
                digest = record.manifest_digest
                found[name] = digest if found.get(name, digest) == digest else ""
        return found

    def config(self, name: str, platform: str | None = None) -> ImageConfig | None:
        """The image config of a base (None for scratch): the plan reads its ENV and ONBUILD."""
        if name == "scratch":
            return None
        return self.store.config(self.record(name, platform))

    def _find_or_pull(self, name: str, platform_text: str) -> ImageRecord:
        from builder.image.platform import parse_platform
        from builder.store import PlatformMismatchError

        platform = parse_platform(platform_text)
        try:
            record = None if self.pull else self.store.find_for_platform(name, platform)
        except PlatformMismatchError as err:
            if self._pulled(name):  # the registry may have the platform the store lacks
                from builder.registry.pull import pull

                try:
                    return pull(self.store, name, platform=platform)
                except PybuildError:
                    pass
            raise BuildError(
                f'base image "{name}" has no {platform} image: it offers '
                f"{', '.join(err.offered) or 'no known platform'}",
                hint=f"import or pull a {platform} image under that name "
                f"(pybuild import --platform {platform} ROOTFS.tar {name}, "
                f"pybuild pull --platform {platform} {name}), or build for "
                f"{' or '.join(err.offered) or 'its platform'} with --platform",
            ) from None
        if record is not None:
            return record
        from builder.image.platform import host_platform
        from builder.registry.pull import pull  # only builds that pull pay for the client

        try:  # the host's platform is pulled as a plain `pull` does it
            return pull(
                self.store, name, platform=None if platform == host_platform() else platform
            )
        except PybuildError as err:
            raise BuildError(
                f'base image "{name}" is not in the local store, and pulling it failed: '
                f"{err.message}",
                hint="import it (`pybuild import ROOTFS.tar NAME`), load it "
                "(`pybuild load -i FILE`), or pull it from a registry you can reach",
            ) from None

    def _pulled(self, name: str) -> bool:
        """Whether the store's image(s) of `name` came from its registry (a repo digest there)."""
        from builder.store.lookup import repository

        digests = [
            d for _, record in self.store.platforms_of(name) or [] for d in record.repo_digests
        ]
        index = self.store.find_index(name)
        digests += list(index.repo_digests) if index is not None else []
        return any(repository(d) == repository(name) for d in digests)

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
        record = self.record(base.name, stage.platform or plan.platform)
        state = StageState(start_stage(self.store.config(record)), key=record.manifest_digest)
        state.config.image.config.on_build = None  # triggers run once, in this build
        state.layers = list(self.store.manifest(record).layers)
        state.snapshots = self.store.ensure_snapshots(record)
        return state
