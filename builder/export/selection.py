"""Which images an export writes, and under which names.

Like `docker save NAME...`: an argument that names an image (`debian:bookworm`)
exports that image under that name; an image ID or digest reference exports
the image without a name. The same image asked for twice is written once,
with the union of its names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from builder.errors import ImageError
from builder.image.reference import ReferenceError, parse_reference, parse_tag

if TYPE_CHECKING:
    from builder.store import ImageRecord, IndexRecord, Store


@dataclass
class ImageSelection:
    """One image to export and the full names (`docker.io/library/debian:bookworm`) to give it."""

    record: ImageRecord  #: for a multi-platform image: its host's (or first) platform's
    names: list[str] = field(default_factory=list)
    index: IndexRecord | None = None  #: a multi-platform image: exported whole, as its index


def _as_name(text: str) -> str | None:
    """The full tagged name `text` would be, or None for a digest reference or non-name."""
    try:
        ref = parse_reference(text)
    except ReferenceError:
        return None
    if ref.digest is not None or ref.tag is None:
        return None
    return str(ref)


def select_images(store: Store, texts: Iterable[str]) -> list[ImageSelection]:
    """Resolve `docker save` arguments; ImageNotFoundError for an unknown one."""
    selected: dict[str, ImageSelection] = {}
    for text in texts:
        record = store.resolve(text)
        index = store.find_index(text)
        key = index.digest if index is not None else record.id
        entry = selected.setdefault(key, ImageSelection(record, index=index))
        names = index.names if index is not None else record.names
        name = _as_name(text)  # an ID that also parses as a name is not one of the image's names
        if name is not None and name in names and name not in entry.names:
            entry.names.append(name)
    return list(selected.values())


def merge_selections(selections: Sequence[ImageSelection]) -> list[ImageSelection]:
    """Collapse repeated images, keeping every name once, in first-seen order."""
    merged: dict[str, ImageSelection] = {}
    for selection in selections:
        key = selection.index.digest if selection.index is not None else selection.record.id
        entry = merged.setdefault(key, ImageSelection(selection.record, index=selection.index))
        for name in selection.names:
            try:
                full = str(parse_tag(name))
            except ReferenceError as err:
                raise ImageError(f"cannot export under the name {name!r}: {err}") from None
            if full not in entry.names:
                entry.names.append(full)
    return list(merged.values())
