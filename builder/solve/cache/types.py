"""Types the cache modules and the executor share: a used step, a remote source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from builder.solve.cache.keys import CachedStep, StepInputs

if TYPE_CHECKING:
    from builder.image.model import Descriptor
    from builder.store import Store


class RemoteCache(Protocol):
    """Step results kept elsewhere (a registry, a directory): `--cache-from`."""

    def lookup(self, key: str) -> CachedStep | None:
        """The result stored for `key`, or None."""

    def fetch_layer(self, store: Store, layer: Descriptor) -> bool:
        """Put `layer`'s blob into `store` (verified); False if it cannot."""


@dataclass(frozen=True)
class UsedStep:
    """A step result a build produced or reused, for `--cache-to`."""

    key: str
    result: CachedStep
    inputs: StepInputs
    stage: int
    in_target: bool  #: the step is part of the final image's chain (mode=min exports these)
