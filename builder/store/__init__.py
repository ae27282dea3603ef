"""The local content store: blobs, image refs, snapshots, locks, garbage collection.

`Store.open()` is the way in; `docs/images.md` says what the store guarantees.
"""

from builder.store.blobs import BlobSizeMismatchError, BlobWriter
from builder.store.gc import DiskUsage, PruneReport
from builder.store.paths import default_root
from builder.store.records import ImageRecord, IncomingImage, IndexRecord
from builder.store.store import PlatformMismatchError, Store

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
