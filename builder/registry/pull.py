"""Pull an image from a registry into the local store.

Tag -> manifest or index; an index is narrowed to one platform (the host's,
or the one asked for). With a platform asked for, the tag keeps naming
the platforms pulled before under it (`Store.add_platform`), so pulling
`--platform linux/amd64` then `linux/arm64` leaves one name for both.
The config comes first (its platform is checked), then the layers the
store lacks, a few at a time. Every blob is verified while it streams into
the store, and every layer is unpacked (its diff_id checked) before the
image record is written; any failure stores no image record and moves no
name.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from builder.errors import ImageError, UsageError
from builder.image import mediatypes
from builder.image.model import Descriptor, ImageConfig, Index, Manifest, select_manifest
from builder.image.platform import Platform, host_platform
from builder.image.reference import Reference, ReferenceError, parse_reference
from builder.registry.client import MAX_MANIFEST_SIZE, RegistryClient, Sink
from builder.registry.parallel import Cancelled, run_jobs
from builder.registry.progress import Kind, Progress, ProgressEvent, State, no_progress

if TYPE_CHECKING:
    from builder.store import ImageRecord, Store

DEFAULT_JOBS = 4
#: An image config is JSON read into memory: refuse absurd sizes before downloading.
MAX_CONFIG_SIZE = 32 << 20
#: An index's platforms named in the "no image for this platform" error.
MAX_PLATFORMS_SHOWN = 6


class _GuardedSink:
    """Writes to a blob writer unless the pull was cancelled."""

    def __init__(self, writer: Sink, cancel: threading.Event):
        self._writer = writer
        self._cancel = cancel

    def write(self, data: bytes) -> int:
        if self._cancel.is_set():
            raise Cancelled()
        self._writer.write(data)
        return len(data)


def platform_list(platforms: list[str]) -> str:
    """`linux/amd64, linux/arm64 and 9 more`: a readable, short list for one message."""
    if not platforms:
        return "no usable platform"
    shown = ", ".join(platforms[:MAX_PLATFORMS_SHOWN])
    left = len(platforms) - MAX_PLATFORMS_SHOWN
    return f"{shown} and {left} more" if left > 0 else shown


def parse_pull_reference(reference: str | Reference) -> Reference:
    if isinstance(reference, Reference):
        return reference
    try:
        return parse_reference(reference)
    except ReferenceError as err:
        raise UsageError(str(err)) from None


def pull(
    store: Store,
    reference: str | Reference,
    *,
    platform: Platform | None = None,
    progress: Progress | None = None,
    client: RegistryClient | None = None,
    insecure: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> ImageRecord:
    """Pull `reference` (`debian:bookworm`, `host:5000/app@sha256:...`) into `store`."""
    ref = parse_pull_reference(reference)
    own_client = client is None
    session = client or RegistryClient(ref.registry, insecure=insecure)
    try:
        with store.lease():
            return _Puller(
                store, session, ref, platform, no_progress if progress is None else progress, jobs
            ).run()
    finally:
        if own_client:
            session.close()


class _Puller:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        ref: Reference,
        platform: Platform | None,
        progress: Progress,
        jobs: int,
    ):
        self.store = store
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.platform = platform
        self.progress = progress
        self.jobs = max(1, jobs)

    def emit(self, desc: Descriptor, kind: Kind, state: State, done: int = 0) -> None:
        self.progress(ProgressEvent(desc.digest, kind, state, done, desc.size))

    def run(self) -> ImageRecord:
        ref = self.ref
        data, media_type, top_digest = self.client.get_manifest(
            self.repo, ref.digest or ref.tag or "latest"
        )
        top = Descriptor(media_type, top_digest, len(data))
        wanted = self.platform or host_platform()
        index_data: bytes | None = None
        entry_platform: Platform | None = None
        if media_type in mediatypes.INDEX_TYPES:
            self.emit(top, "index", "done", len(data))
            index = Index.from_bytes(data, media_type)
            entry = select_manifest(index, wanted)
            if entry is None:
                offered = sorted(
                    {
                        str(d.platform)
                        for d in index.manifests
                        if d.platform is not None and d.platform.os != "unknown"
                    }
                )
                raise ImageError(
                    f"{ref.familiar}: no image for platform {wanted} in its index "
                    f"(it has {platform_list(offered)})",
                    hint="choose one of them with --platform",
                )
            if entry.size > MAX_MANIFEST_SIZE:
                raise ImageError(f"{ref.familiar}: index entry {entry.digest} is too large")
            index_data = data
            entry_platform = entry.platform
            data, media_type, manifest_digest = self.client.get_manifest(self.repo, entry.digest)
            if len(data) != entry.size:
                raise ImageError(
                    f"{ref.familiar}: manifest {entry.digest} is {len(data)} bytes, "
                    f"the index says {entry.size}"
                )
            if media_type not in mediatypes.MANIFEST_TYPES:
                raise ImageError(f"{ref.familiar}: index entry {entry.digest} is not a manifest")
        else:
            manifest_digest = top_digest
        manifest = Manifest.from_bytes(data, media_type)
        manifest_desc = Descriptor(media_type, manifest_digest, len(data))
        self.emit(manifest_desc, "manifest", "done", len(data))
        self._check_manifest(manifest)

        config = self._fetch_config(manifest.config)
        self._check_config(config, manifest, wanted, entry_platform)
        self._fetch_layers(manifest.layers)

        self.store.put_blob(data, expected=manifest_digest)
        if index_data is not None:
            self.store.put_blob(index_data, expected=top_digest)
        names = []
        if ref.tag and not ref.digest:
            names.append(str(Reference(ref.registry, ref.path, ref.tag)))
        from builder.store import IncomingImage

        if self.platform is None:
            image = IncomingImage(manifest_digest, tuple(names), f"{ref.name}@{top_digest}")
            return self.store.add_unpacked_images([image])[0]
        # `--platform`: the tag keeps naming the platforms already pulled under it
        image = IncomingImage(manifest_digest, (), f"{ref.name}@{top_digest}")
        record = self.store.add_unpacked_images([image])[0]
        for name in names:
            self.store.add_platform(name, manifest_digest)
        return self.store.find(record.manifest_digest) or record

    # -- checks ----------------------------------------------------------------------------

    def _check_manifest(self, manifest: Manifest) -> None:
        if manifest.config.size > MAX_CONFIG_SIZE:
            raise ImageError(
                f"{self.ref.familiar}: the image config is {manifest.config.size} bytes, "
                f"more than the {MAX_CONFIG_SIZE} accepted"
            )
        if manifest.config.media_type not in mediatypes.CONFIG_TYPES:
            raise ImageError(
                f"{self.ref.familiar}: not a container image "
                f"(config media type {manifest.config.media_type!r})"
            )
        for i, layer in enumerate(manifest.layers):
            if not mediatypes.is_layer(layer.media_type):
                raise ImageError(
                    f"{self.ref.familiar}: layer {i} has an unsupported media type "
                    f"{layer.media_type!r}"
                )

    def _check_config(
        self,
        config: ImageConfig,
        manifest: Manifest,
        wanted: Platform,
        entry_platform: Platform | None,
    ) -> None:
        actual = config.platform
        if len(config.diff_ids) != len(manifest.layers):
            raise ImageError(
                f"{self.ref.familiar}: the config lists {len(config.diff_ids)} layers, "
                f"the manifest {len(manifest.layers)}"
            )
        if entry_platform is not None:
            expected = entry_platform
        elif self.platform is not None:
            expected = self.platform
        else:
            return  # a single-platform image, no platform asked for: take it as it is
        same = (actual.os, actual.architecture) == (expected.os, expected.architecture)
        if not same or (actual.variant and expected.variant and actual.variant != expected.variant):
            raise ImageError(
                f"{self.ref.familiar}: the image is for {actual}, not {expected}",
                hint="pull another platform with --platform, or check the image",
            )

    # -- blobs -----------------------------------------------------------------------------

    def _download(self, desc: Descriptor, kind: Kind, cancel: threading.Event) -> None:
        self.emit(desc, kind, "downloading", 0)
        with self.store.blob_writer(expected=desc.digest, expected_size=desc.size) as writer:
            self.client.get_blob(
                self.repo,
                desc.digest,
                _GuardedSink(writer, cancel),
                size=desc.size,
                progress=lambda done: self.emit(desc, kind, "downloading", done),
            )
            self.emit(desc, kind, "verifying", desc.size)
        self.emit(desc, kind, "done", desc.size)

    def _fetch_config(self, desc: Descriptor) -> ImageConfig:
        if self.store.has_blob(desc.digest):
            self.emit(desc, "config", "exists", desc.size)
        else:
            self._download(desc, "config", threading.Event())
        return ImageConfig.from_bytes(self.store.read_blob(desc.digest))

    def _fetch_layers(self, layers: tuple[Descriptor, ...]) -> None:
        todo: list[Descriptor] = []
        seen: set[str] = set()
        for layer in layers:
            if layer.digest in seen:
                continue
            seen.add(layer.digest)
            if self.store.has_blob(layer.digest):
                self.emit(layer, "layer", "exists", layer.size)
            else:
                todo.append(layer)
                self.emit(layer, "layer", "waiting")
        run_jobs(todo, lambda layer, cancel: self._download(layer, "layer", cancel), self.jobs)
