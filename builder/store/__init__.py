"""The local content store: blobs, image refs, snapshots, locks, garbage collection.

`Store.open()` is the way in; see /work/notes/store-api.md for the contract.
"""

from builder.store.blobs import BlobSizeMismatchError, BlobWriter
from builder.store.gc import DiskUsage, PruneReport
from builder.store.incoming import IncomingImage
from builder.store.paths import default_root
from builder.store.records import ImageRecord
from builder.store.store import Store

__all__ = [
    "BlobSizeMismatchError",
    "BlobWriter",
    "DiskUsage",
    "ImageRecord",
    "IncomingImage",
    "PruneReport",
    "Store",
    "default_root",
]
