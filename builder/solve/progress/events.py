"""What a build reports while it runs: the events the executor emits, and who receives them.

A step event's `target` names the bake target the step belongs to when
several builds share one display (`pybuild bake`): the renderers show it
(`labelled`), and the vertex numbers are then unique across the builds.
"""

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
    target: str | None = None  #: the bake target the step belongs to


@dataclass(frozen=True)
class StepOutput:
    vertex: int
    data: bytes
    target: str | None = None  #: the bake target the step belongs to


@dataclass(frozen=True)
class StepLog:
    """A line about a step that is not the process's output (`resolve ...`)."""

    vertex: int
    text: str
    target: str | None = None  #: the bake target the step belongs to


@dataclass(frozen=True)
class StepDone:
    vertex: int
    seconds: float
    cached: bool = False
    target: str | None = None  #: the bake target the step belongs to


@dataclass(frozen=True)
class StepFailed:
    vertex: int
    message: str
    seconds: float | None = None  #: how long the step ran; None: the renderer measures it
    target: str | None = None  #: the bake target the step belongs to


@dataclass(frozen=True)
class StepCanceled:
    """The step was running when the build stopped (cancelled, or another stage failed)."""

    vertex: int
    seconds: float  #: how long it ran until it was stopped
    target: str | None = None  #: the bake target the step belongs to


Event = BuildStarted | StepStarted | StepOutput | StepLog | StepDone | StepFailed | StepCanceled
Reporter = Callable[[Event], None]


def labelled(name: str, target: str | None) -> str:
    """A step's name with its bake target: `[web 2/3] RUN ...`, `[web] ...`; as is without one."""
    if not target:
        return name
    if name.startswith("["):
        return f"[{target} {name[1:]}"
    return f"[{target}] {name}"


def no_progress(event: Event) -> None:
    """Report nothing (`--progress quiet`, library use)."""
