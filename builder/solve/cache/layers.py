"""Checking a cache layer while it streams into the store: its diff_id.

`LayerCheck` hashes the compressed bytes on their way to the store's blob
writer (the layer's digest) and decompresses them to hash the tar (its
diff_id), so a record whose diff_id does not match its layer is caught
before the blob is stored (the executor would otherwise fail unpacking it).
Memory stays bounded: gzip is inflated a chunk at a time, zstd through a
stream writer.
"""

from __future__ import annotations

import hashlib
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from builder.errors import LayerError
from builder.image.digest import DigestMismatchError, new_hasher
from builder.image.model import Descriptor

if TYPE_CHECKING:
    from typing_extensions import Buffer

_CHUNK = 1 << 20


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class _HashSink:
    def __init__(self, hasher: hashlib._Hash) -> None:
        self._hasher = hasher

    def write(self, data: Buffer) -> int:
        view = memoryview(data)
        self._hasher.update(view)
        return view.nbytes


class LayerCheck:
    """Writes a layer's bytes to `sink` and computes the diff_id of what they decompress to."""

    def __init__(self, sink: ByteSink, layer: Descriptor, compression: str, what: str) -> None:
        if compression not in ("gzip", "zstd", "none"):
            raise LayerError(f"{what}: unsupported layer compression {compression!r}")
        self._sink = sink
        self._compression = compression
        self._what = what
        self._layer = layer
        self._blob_hash = new_hasher(layer.digest)
        self._hash = hashlib.sha256()
        self._error: str | None = None
        self._gunzip: Any = _new_gunzip() if compression == "gzip" else None
        self._unzstd: Any = None
        if compression == "zstd":
            import zstandard

            sink_for_zstd = cast(IO[bytes], _HashSink(self._hash))  # it only calls write()
            self._unzstd = zstandard.ZstdDecompressor().stream_writer(
                sink_for_zstd, write_return_read=True
            )

    def write(self, data: bytes) -> int:
        self._sink.write(data)
        self._blob_hash.update(data)
        if self._error is not None:
            return len(data)
        try:
            if self._gunzip is not None:
                self._feed_gzip(data)
            elif self._unzstd is not None:
                self._unzstd.write(data)
            else:
                self._hash.update(data)
        except Exception as err:  # isal's IsalError, zstandard's ZstdError
            # reported by verify(): a digest mismatch found at the end says more
            self._error = f"not a valid {self._compression} stream ({err})"
        return len(data)

    def _feed_gzip(self, data: bytes) -> None:
        pending = data
        while True:
            assert self._gunzip is not None
            out = self._gunzip.decompress(pending, _CHUNK)
            self._hash.update(out)
            if self._gunzip.eof:  # a member ended; another may follow (pigz, concatenation)
                pending = self._gunzip.unused_data
                self._gunzip = _new_gunzip()
                if not pending:
                    return
                continue
            pending = self._gunzip.unconsumed_tail
            if not pending and len(out) < _CHUNK:
                return

    def verify(self, expected: str) -> None:
        """Check the bytes written: the layer's digest, then their diff_id against `expected`.

        DigestMismatchError for the first, LayerError for the second.
        """
        actual_digest = f"{self._blob_hash.name}:{self._blob_hash.hexdigest()}"
        if actual_digest != self._layer.digest:
            raise DigestMismatchError(self._layer.digest, actual_digest, self._what)
        if self._error is None:
            try:
                if self._gunzip is not None:
                    self._hash.update(self._gunzip.flush())
                elif self._unzstd is not None:
                    self._unzstd.flush()
            except Exception as err:
                self._error = f"not a valid {self._compression} stream ({err})"
        if self._error is not None:
            raise LayerError(f"{self._what}: {self._error}")
        actual = "sha256:" + self._hash.hexdigest()
        if actual != expected:
            raise LayerError(
                f"{self._what}: its content has diff_id {actual}, the cache record says {expected}",
                hint="the cache is damaged or was tampered with; export it again",
            )


def _new_gunzip() -> Any:
    from isal import isal_zlib

    return isal_zlib.decompressobj(wbits=31)
