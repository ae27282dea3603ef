"""The local content store: blobs, image refs, snapshots, locks, garbage collection.

`Store.open()` is the way in; `docs/images.md` says what the store guarantees.

The names below load their module on first use, so that a command that only
needs `builder.store.paths` (the linter's image lookup, say) does not load
the whole store.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.store.blobs import BlobSizeMismatchError, BlobWriter
    from builder.store.gc import DiskUsage, PruneReport
    from builder.store.paths import default_root
    from builder.store.records import ImageRecord, IncomingImage, IndexRecord
    from builder.store.store import PlatformMismatchError, Store

_MODULE_OF = {
    "BlobSizeMismatchError": "builder.store.blobs",
    "BlobWriter": "builder.store.blobs",
    "DiskUsage": "builder.store.gc",
    "PruneReport": "builder.store.gc",
    "default_root": "builder.store.paths",
    "ImageRecord": "builder.store.records",
    "IncomingImage": "builder.store.records",
    "IndexRecord": "builder.store.records",
    "PlatformMismatchError": "builder.store.store",
    "Store": "builder.store.store",
}

__all__ = [
    "BlobSizeMismatchError",
    "BlobWriter",
    "DiskUsage",
    "ImageRecord",
    "IncomingImage",
    "IndexRecord",
    "PlatformMismatchError",
    "PruneReport",
    "Store",
    "default_root",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'builder.store' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value
