"""The build plan as data: stages, their steps, the order they can run in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.plan.args import Variable

if TYPE_CHECKING:
    from builder.dockerfile.commands import Command


@dataclass(frozen=True)
class BaseRef:
    """What a stage starts from."""

    kind: str  #: "image", "stage", "scratch" or "context" (a named directory context)
    name: str  #: the image reference after ARG expansion, or the stage's display name
    stage_index: int | None = None  #: for kind "stage"


@dataclass(frozen=True)
class Step:
    """One instruction of a stage, with its words expanded for that point of the stage."""

    line: int
    kind: str  #: lower-case keyword: "run", "copy", "from"...
    instruction: str  #: the instruction as written (continuations joined)
    args: list[str]  #: expanded arguments; RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK kept as written
    flags: list[str] = field(default_factory=list)  #: expanded flags: "--from=builder"
    name: str = ""  #: BuildKit-like progress name "[builder 2/4] RUN ..."; "" for metadata steps
    vertex: int | None = None  #: build-wide number of a step that does work (#N)
    variables: list[Variable] = field(default_factory=list)  #: ARG/ENV a RUN step sees
    #: an ONBUILD trigger of the base image (it runs right after FROM; `line` is the FROM's)
    onbuild: bool = False
    #: the typed command (None for FROM); the executor reads its fields (shell form, heredocs...)
    command: Command | None = field(default=None, compare=False, repr=False)


@dataclass
class PlannedStage:
    name: str | None  #: lower-cased `AS` name
    index: int
    line: int  #: line of its FROM
    base: BaseRef
    platform: str | None  #: expanded `FROM --platform`, None when not given
    steps: list[Step]
    depends_on: list[int]  #: stage indices: base stage, COPY --from, RUN --mount from
    images: list[str]  #: external images used by COPY --from / RUN --mount from
    needed: bool  #: False when --target prunes it

    @property
    def display_name(self) -> str:
        """BuildKit's name for it: the `AS` name, else `stage-N`."""
        return self.name if self.name is not None else f"stage-{self.index}"


@dataclass
class BuildPlan:
    path: str
    stages: list[PlannedStage]
    target: int  #: index of the target stage
    waves: list[list[int]]  #: needed stages in topological levels; a wave can run in parallel
    warnings: list[str]
    platform: str  #: TARGETPLATFORM
    build_platform: str  #: BUILDPLATFORM
    build_args: dict[str, str]  #: after taking bare names from the environment
    global_args: dict[str, str]  #: what FROM lines saw (predefined + meta ARGs)

    @property
    def target_stage(self) -> PlannedStage:
        return self.stages[self.target]

    @property
    def pruned(self) -> list[PlannedStage]:
        return [s for s in self.stages if not s.needed]

    def stage(self, ref: str | int) -> PlannedStage:
        """A stage by index or by (case-insensitive) name; KeyError if absent."""
        if isinstance(ref, int):
            return self.stages[ref]
        for s in self.stages:
            if s.name is not None and s.name == ref.lower():
                return s
        raise KeyError(ref)
