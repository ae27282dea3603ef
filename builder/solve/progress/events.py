"""What a build reports while it runs: the events the executor emits, and who receives them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BuildStarted:
    """Sent before any step, when the number of steps is known (for `(5/9)`).

    A multi-platform build sends it again before each later platform's graph,
    with the total of the graphs so far (vertices are numbered across them).
    """

    total_steps: int


@dataclass(frozen=True)
class StepStarted:
    vertex: int
    name: str


@dataclass(frozen=True)
class StepOutput:
    vertex: int
    data: bytes


@dataclass(frozen=True)
class StepLog:
    """A line about a step that is not the process's output (`resolve ...`)."""

    vertex: int
    text: str


@dataclass(frozen=True)
class StepDone:
    vertex: int
    seconds: float
    cached: bool = False


@dataclass(frozen=True)
class StepFailed:
    vertex: int
    message: str
    seconds: float | None = None  #: how long the step ran; None: the renderer measures it


@dataclass(frozen=True)
class StepCanceled:
    """The step was running when the build stopped (cancelled, or another stage failed)."""

    vertex: int
    seconds: float  #: how long it ran until it was stopped


Event = BuildStarted | StepStarted | StepOutput | StepLog | StepDone | StepFailed | StepCanceled
Reporter = Callable[[Event], None]


def no_progress(event: Event) -> None:
    """Report nothing (`--progress quiet`, library use)."""
