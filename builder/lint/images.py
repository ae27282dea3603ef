"""What the local image store knows about base images, for the rules that can use it.

A linter without a builder cannot know a base image's ENV, so BuildKit's
UndefinedVar reports `$PYTHON_VERSION` after `FROM python`. pybuild has a
store: when the base image is there, its ENV is known. Nothing is pulled
and nothing is written; an image that is not stored is treated as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from builder.errors import PybuildError

ImageEnv = Callable[[str], Mapping[str, str] | None]


def local_image_env(root: Path | None = None) -> ImageEnv | None:
    """A lookup of stored images' ENV by name; None when there is no store at all."""
    from builder.store.paths import default_root

    root = root or default_root()
    if not (root / "index.json").is_file():
        return None
    found: dict[str, Mapping[str, str] | None] = {}

    def lookup(name: str) -> Mapping[str, str] | None:
        if name not in found:
            found[name] = _env_of(root, name)
        return found[name]

    return lookup


def _env_of(root: Path, name: str) -> Mapping[str, str] | None:
    from builder.store import Store

    try:
        store = Store.open(root)
        record = store.find(name)
        if record is None:
            return None
        return store.config(record).config.env_map()
    except (PybuildError, OSError):
        return None  # an unreadable store or image: lint as if it were not there
