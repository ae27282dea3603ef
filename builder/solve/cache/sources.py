"""`--cache-from`: step results kept in a registry or an OCI layout directory.

A source imports its records lazily, on the first lookup (or `load()`):
the manifest is fetched and verified, then the config holding the records
(a pybuild cache manifest, or an image whose config carries inline
records). Records are indexed by key; only records whose layer the
manifest lists are kept, so a source never fetches a blob it was not
meant to hold.

A cache that is missing, unreachable or malformed is not an error: the
source warns once and has no hits, as buildx does. A layer that fails to
download or verify (digest, size, diff_id) is not stored; the source
warns, and the executor runs that step instead.

Sources are thread-safe (parallel stages look up at the same time).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError, PybuildError
from builder.image import mediatypes
from builder.image.digest import verify_bytes
from builder.image.model import Descriptor, Index, Manifest, select_manifest
from builder.solve.cache.format import (
    INLINE_CACHE_KEY,
    MAX_CONFIG_SIZE,
    CacheRecord,
    decode_records,
    index_records,
    is_cache_manifest,
    parse_json_object,
)
from builder.solve.cache.keys import CachedStep
from builder.solve.cache.layers import ByteSink, LayerCheck

if TYPE_CHECKING:
    from builder.image.reference import Reference
    from builder.registry.client import RegistryClient
    from builder.store import Store

Warn = Callable[[str], None]
_CHUNK = 1 << 20
_MAX_PROBLEMS_SHOWN = 3


class CacheSource:
    """Records imported from somewhere; the `RemoteCache` the executor consults."""

    def __init__(self, description: str, warn: Warn | None = None) -> None:
        self.description = description  #: e.g. "registry 127.0.0.1:5000/cache:main"
        self.warnings: list[str] = []  #: every warning so far, for the progress display
        self._warn_to = warn
        self._lock = threading.Lock()
        self._records: dict[str, CacheRecord] | None = None
        self._diff_ids: dict[str, str] = {}  #: layer digest -> diff_id
        self._failed: set[str] = set()  #: layers that did not download or verify

    # --- what subclasses provide -------------------------------------------------------------

    def _read(self) -> tuple[list[CacheRecord], tuple[Descriptor, ...]]:
        """The records and the layers the manifest lists (raise PybuildError/OSError)."""
        raise NotImplementedError

    def _copy_blob(self, layer: Descriptor, sink: ByteSink) -> None:
        """Write the layer blob's bytes to `sink` (raise PybuildError/OSError)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections (a closed source may still be used; it reconnects)."""

    # --- the RemoteCache protocol -------------------------------------------------------------

    def load(self) -> int:
        """Import the records now (else the first lookup does); the number usable."""
        return len(self._loaded())

    def lookup(self, key: str) -> CachedStep | None:
        record = self._loaded().get(key)
        if record is None:
            return None
        if record.layer is not None and record.layer.digest in self._failed:
            return None
        return record.cached_step()

    def fetch_layer(self, store: Store, layer: Descriptor) -> bool:
        """Download `layer` into `store`, verified (digest, size, diff_id); False if it fails."""
        self._loaded()
        diff_id = self._diff_ids.get(layer.digest)
        if diff_id is None or layer.digest in self._failed:
            return False
        compression = mediatypes.layer_compression(layer.media_type) or "none"
        what = f"cache layer {layer.digest}"
        try:
            with store.blob_writer(expected=layer.digest, expected_size=layer.size) as writer:
                check = LayerCheck(writer, layer, compression, what)
                self._copy_blob(layer, check)
                check.verify(diff_id)
        except (PybuildError, OSError) as err:
            with self._lock:
                self._failed.add(layer.digest)
            self._warn(
                f"cache from {self.description}: layer {layer.digest} is unusable: "
                f"{_message(err)}; the step runs instead"
            )
            return False
        return True

    # --- internals ----------------------------------------------------------------------------

    def _loaded(self) -> dict[str, CacheRecord]:
        with self._lock:
            if self._records is None:
                self._records = self._import()
            return self._records

    def _import(self) -> dict[str, CacheRecord]:
        try:
            records, layers = self._read()
        except (PybuildError, OSError) as err:
            self._warn(
                f"importing cache from {self.description} failed: {_message(err)}; "
                "building without it"
            )
            return {}
        index, problems = index_records(records, layers, f"cache {self.description}")
        for problem in problems[:_MAX_PROBLEMS_SHOWN]:
            self._warn(f"{problem}; ignoring that record")
        if len(problems) > _MAX_PROBLEMS_SHOWN:
            self._warn(f"... and {len(problems) - _MAX_PROBLEMS_SHOWN} more records ignored")
        self._diff_ids = {
            r.layer.digest: r.diff_id
            for r in index.values()
            if r.layer is not None and r.diff_id is not None
        }
        return index

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        if self._warn_to is not None:
            self._warn_to(text)


def _message(err: BaseException) -> str:
    if isinstance(err, PybuildError):
        return err.message
    if isinstance(err, OSError):
        return err.strerror or str(err)
    return str(err)


def records_of_manifest(
    manifest: Manifest, read_config: Callable[[Descriptor], bytes], what: str
) -> list[CacheRecord]:
    """The records a manifest carries: a pybuild cache, or an image with inline records."""
    if manifest.config.size > MAX_CONFIG_SIZE:
        raise ImageError(f"{what}: its config is larger than {MAX_CONFIG_SIZE >> 20} MiB")
    if is_cache_manifest(manifest):
        document: object = parse_json_object(read_config(manifest.config), f"{what} config")
        return decode_records(document, f"{what} config")
    if manifest.config.media_type in mediatypes.CONFIG_TYPES:
        config = parse_json_object(read_config(manifest.config), f"{what} image config")
        if INLINE_CACHE_KEY not in config:
            raise ImageError(
                f"{what} is an image without pybuild cache records",
                hint="build it with --cache-to type=inline, or export a cache with "
                "--cache-to type=registry,ref=...",
            )
        return decode_records(config[INLINE_CACHE_KEY], f"{what} inline cache")
    raise ImageError(
        f"{what} is not a pybuild cache (config media type {manifest.config.media_type[:100]!r})"
    )


# --- registry ----------------------------------------------------------------------------------


class _BoundedBuffer:
    """An in-memory sink that refuses more than `limit` bytes."""

    def __init__(self, limit: int, what: str) -> None:
        self._buffer = io.BytesIO()
        self._limit = limit
        self._what = what

    def write(self, data: bytes) -> int:
        if self._buffer.tell() + len(data) > self._limit:
            raise ImageError(f"{self._what}: more than the {self._limit} bytes announced")
        return self._buffer.write(data)

    def getvalue(self) -> bytes:
        return self._buffer.getvalue()


class RegistryCacheSource(CacheSource):
    """A cache manifest (or an image with inline records) in a registry."""

    def __init__(self, client: RegistryClient, ref: Reference, warn: Warn | None = None) -> None:
        super().__init__(f"registry {ref.familiar}", warn)
        self.client = client
        self.ref = ref

    def close(self) -> None:
        self.client.close()

    def _read(self) -> tuple[list[CacheRecord], tuple[Descriptor, ...]]:
        from builder.image.platform import host_platform

        repo = self.ref.path
        what = self.ref.familiar
        data, media_type, _ = self.client.get_manifest(
            repo, self.ref.digest or self.ref.tag or "latest"
        )
        if media_type in mediatypes.INDEX_TYPES:  # an image pushed as an index: every platform's
            index = Index.from_bytes(data, media_type)
            entries = [d for d in index.manifests if d.media_type in mediatypes.MANIFEST_TYPES]
            if not entries:
                raise ImageError(f"{what}: an index with no manifest for {host_platform()}")
            records: list[CacheRecord] = []
            layers: list[Descriptor] = []
            for entry in entries:  # a multi-platform build's inline records are in each image
                data, media_type, _ = self.client.get_manifest(repo, entry.digest)
                manifest = Manifest.from_bytes(data, media_type)
                records.extend(records_of_manifest(manifest, self._config, what))
                layers.extend(manifest.layers)
            return records, tuple(layers)
        manifest = Manifest.from_bytes(data, media_type)
        return records_of_manifest(manifest, self._config, what), manifest.layers

    def _config(self, desc: Descriptor) -> bytes:
        buffer = _BoundedBuffer(desc.size, f"config {desc.digest}")
        self.client.get_blob(self.ref.path, desc.digest, buffer, size=desc.size)
        return buffer.getvalue()

    def _copy_blob(self, layer: Descriptor, sink: ByteSink) -> None:
        self.client.get_blob(self.ref.path, layer.digest, sink, size=layer.size)


# --- local directory ---------------------------------------------------------------------------


class LocalCacheSource(CacheSource):
    """A cache manifest in an OCI layout directory (`--cache-from type=local,src=DIR`).

    The directory is hostile: files are opened without following symlinks,
    must be regular files of the announced size, and every byte read is
    verified against its digest.
    """

    def __init__(
        self,
        store: Store,
        root: Path,
        *,
        tag: str = "latest",
        digest: str | None = None,
        warn: Warn | None = None,
    ) -> None:
        super().__init__(f"local directory {root}", warn)
        self.store = store
        self.root = root
        self.tag = tag
        self.digest = digest

    def _read(self) -> tuple[list[CacheRecord], tuple[Descriptor, ...]]:
        from builder.export.archive_reader import LayoutDirFiles
        from builder.export.oci_layout import (
            ANNOTATION_REF_NAME,
            check_layout_version,
            read_index,
        )
        from builder.image.platform import host_platform

        if not self.root.is_dir():
            raise ImageError(f"{self.root}: no such directory")
        files = LayoutDirFiles(self.store, self.root.resolve())  # a symlinked root is the user's
        check_layout_version(files)
        index = read_index(files)
        what = str(self.root)
        if self.digest is not None:
            found = [d for d in index.manifests if d.digest == self.digest]
            if not found:
                raise ImageError(f"{what}: no manifest {self.digest} in its index.json")
        else:
            found = [
                d for d in index.manifests if d.annotations.get(ANNOTATION_REF_NAME) == self.tag
            ]
            if not found:
                raise ImageError(f"{what}: no cache tagged {self.tag!r} in its index.json")
        entry = found[-1]
        data = self._document(entry)
        if entry.media_type in mediatypes.INDEX_TYPES:
            nested = select_manifest(Index.from_bytes(data, entry.media_type), host_platform())
            if nested is None:
                raise ImageError(f"{what}: an index with no manifest for {host_platform()}")
            entry = nested
            data = self._document(entry)
        manifest = Manifest.from_bytes(data, entry.media_type or None)
        return records_of_manifest(manifest, self._document, f"{what} manifest"), manifest.layers

    def _document(self, desc: Descriptor) -> bytes:
        if desc.size > MAX_CONFIG_SIZE:
            raise ImageError(f"{self.root}: blob {desc.digest} is too large ({desc.size} bytes)")
        with _open_blob(self.root, desc.digest) as (source, size):
            if size != desc.size:
                raise ImageError(
                    f"{self.root}: blob {desc.digest} is {size} bytes, "
                    f"its descriptor says {desc.size}"
                )
            data = source.read(desc.size + 1)
        verify_bytes(data, desc.digest, f"{self.root}: blob")
        return data

    def _copy_blob(self, layer: Descriptor, sink: ByteSink) -> None:
        with _open_blob(self.root, layer.digest) as (source, size):
            if size != layer.size:
                raise ImageError(
                    f"{self.root}: blob {layer.digest} is {size} bytes, "
                    f"its descriptor says {layer.size}"
                )
            left = size
            while left:
                block = source.read(min(_CHUNK, left))
                if not block:
                    raise ImageError(f"{self.root}: blob {layer.digest} ends early")
                sink.write(block)
                left -= len(block)


@contextmanager
def _open_blob(root: Path, digest: str) -> Iterator[tuple[BinaryIO, int]]:
    """`root/blobs/<alg>/<hex>` opened for reading: no symlinks, a regular file, its size."""
    from builder.export.archive_reader import blob_name, open_regular_beneath

    # the digest was validated: no "..", no "/"
    with open_regular_beneath(root, blob_name(digest), f"blob {digest}") as opened:
        yield opened
