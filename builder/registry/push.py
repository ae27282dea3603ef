"""Push an image from the local store to a registry.

Each layer (a few at a time), then the config: skipped when the repository
has it already; else mounted from another repository of the same registry
that the store knows holds it (from the RepoDigests of stored images); else
uploaded. The manifest goes last, under the tag. Afterwards the image gets
the pushed RepoDigest, as `docker push` does, which later pushes to other
repositories use as a mount source.

An image with attestations (SBOM, provenance) is pushed as BuildKit pushes
it: the image manifest and the attestation manifest (with its config and
statements) by digest, then the index listing both under the tag; the
returned digest, and the RepoDigest, are the index's.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from builder.errors import ImageError, PybuildError, UsageError
from builder.image.digest import is_digest
from builder.image.model import Descriptor, Manifest
from builder.image.reference import Reference, ReferenceError, parse_reference
from builder.registry.client import RegistryClient
from builder.registry.errors import RegistryStatusError, RegistryUnavailableError
from builder.registry.parallel import Cancelled, run_jobs
from builder.registry.progress import Kind, Progress, ProgressEvent, State, no_progress

if TYPE_CHECKING:
    from builder.store import ImageRecord, IndexRecord, Store

DEFAULT_JOBS = 3
_MAX_MOUNT_TRIES = 3


def push_target(record_names: tuple[str, ...], image_text: str, reference: str | None) -> Reference:
    """Where to push: `reference`, else the image's own name (which must be one of its names)."""
    try:
        ref = parse_reference(reference or image_text)
    except ReferenceError as err:
        raise UsageError(str(err)) from None
    if reference is None and str(ref) not in record_names:
        raise UsageError(
            f"{image_text!r} is not a name of an image; say where to push it",
            hint="pybuild push IMAGE REGISTRY/REPOSITORY:TAG, or tag the image first",
        )
    if ref.digest is not None:
        raise UsageError(f"cannot push to a digest reference ({ref.familiar}); give a tag")
    return ref


def mount_sources(store: Store, target: Reference) -> dict[str, list[str]]:
    """Blob digest -> other repositories of the target's registry known to hold it."""
    sources: dict[str, list[str]] = {}
    for record in store.images():
        repos = []
        for repo_digest in record.repo_digests:
            name, _, digest = repo_digest.rpartition("@")
            try:
                ref = parse_reference(name, default_tag=None)
            except ReferenceError:
                continue
            if is_digest(digest) and ref.registry == target.registry and ref.path != target.path:
                repos.append(ref.path)
        if not repos:
            continue
        try:
            manifest = store.manifest(record)
        except PybuildError:
            continue
        for desc in (manifest.config, *manifest.layers):
            known = sources.setdefault(desc.digest, [])
            known.extend(r for r in repos if r not in known)
    return sources


def push(
    store: Store,
    image_text: str,
    reference: str | None = None,
    *,
    progress: Progress | None = None,
    client: RegistryClient | None = None,
    insecure: bool = False,
    jobs: int = DEFAULT_JOBS,
) -> str:
    """Push a stored image to `reference` (default: its own name); return the manifest digest.

    A multi-platform image goes as every platform's manifest (by digest; a
    blob two platforms share is uploaded once) and then its index under the
    tag; the index digest is returned.
    """
    record = store.resolve(image_text)
    index = store.find_index(image_text)
    names = index.names if index is not None else record.names
    ref = push_target(names, image_text, reference)
    own_client = client is None
    session = client or RegistryClient(ref.registry, insecure=insecure)
    try:
        pusher = _Pusher(store, session, ref, no_progress if progress is None else progress, jobs)
        digest = pusher.run(record) if index is None else pusher.run_index(index)
    finally:
        if own_client:
            session.close()
    if index is None:
        store.add_image(record.manifest_digest, repo_digest=f"{ref.name}@{digest}")
    else:
        store.add_index(index.digest, repo_digest=f"{ref.name}@{digest}")
    return digest


class _Pusher:
    def __init__(
        self,
        store: Store,
        client: RegistryClient,
        ref: Reference,
        progress: Progress,
        jobs: int,
    ):
        self.store = store
        self.client = client
        self.ref = ref
        self.repo = ref.path
        self.progress = progress
        self.jobs = max(1, jobs)
        self.sources: dict[str, list[str]] = {}
        self.done: set[str] = set()  #: blobs already in the repository (pushed or found)
        self.done_lock = threading.Lock()

    def emit(self, desc: Descriptor, kind: Kind, state: State, done: int = 0) -> None:
        self.progress(ProgressEvent(desc.digest, kind, state, done, desc.size))

    def run_index(self, index: IndexRecord) -> str:
        """Each platform's image by digest, then the index under the tag."""
        from builder.image.model import Index

        self.sources = mount_sources(self.store, self.ref)
        self.client.ping()
        data = self.store.read_blob(index.digest)
        document = Index.from_bytes(data, index.media_type)
        images = {
            m: r
            for _, r in self.store.platforms_of(index.digest) or []
            for m in [r.manifest_digest]
        }
        for entry in document.manifests:
            record = images.get(entry.digest)
            if record is not None:
                self.run(record, by_digest=True, checked=True)
            else:  # an entry that is not an image of the store (an attestation, say)
                self._push_document(entry)
        tag = self.ref.tag or "latest"
        digest = self.client.put_manifest(self.repo, tag, data, document.media_type)
        if digest != index.digest:
            raise ImageError(f"pushed index {digest} differs from the stored {index.digest}")
        self.emit(Descriptor(document.media_type, digest, len(data)), "manifest", "done")
        return digest

    def _push_document(self, entry: Descriptor) -> None:
        from builder.image.model import Manifest

        data = self.store.read_blob(entry.digest)
        manifest = Manifest.from_bytes(data, entry.media_type or None)
        for blob in (*manifest.layers, manifest.config):
            self._push_blob(blob, "layer", threading.Event())
        self.client.put_manifest(self.repo, entry.digest, data, manifest.media_type)

    def run(self, record: ImageRecord, *, by_digest: bool = False, checked: bool = False) -> str:
        manifest_bytes = self.store.read_blob(record.manifest_digest)
        manifest = self.store.manifest(record)
        if not checked:
            self.sources = mount_sources(self.store, self.ref)
            self.client.ping()

        layers: list[Descriptor] = []
        for layer in manifest.layers:
            if layer.digest not in {d.digest for d in layers}:
                layers.append(layer)
                self.emit(layer, "layer", "waiting")
        self.emit(manifest.config, "config", "waiting")
        run_jobs(layers, lambda layer, cancel: self._push_blob(layer, "layer", cancel), self.jobs)
        self._push_blob(manifest.config, "config", threading.Event())

        tag = record.manifest_digest if by_digest else self.ref.tag or "latest"
        if record.attestations is not None and not by_digest:
            return self._push_attested(record, manifest_bytes, tag)
        digest = self.client.put_manifest(self.repo, tag, manifest_bytes, record.media_type)
        if digest != record.manifest_digest:
            raise ImageError(
                f"pushed manifest {digest} differs from the stored {record.manifest_digest}"
            )
        self.emit(Descriptor(record.media_type, digest, len(manifest_bytes)), "manifest", "done")
        return digest

    def _push_attested(self, record: ImageRecord, manifest_bytes: bytes, tag: str) -> str:
        """The image manifest and its attestation manifest by digest, then their index by tag."""
        from builder.attest.generate import attested_image_index
        from builder.image import mediatypes

        assert record.attestations is not None
        self.client.put_manifest(
            self.repo, record.manifest_digest, manifest_bytes, record.media_type
        )
        attestation_bytes = self.store.read_blob(record.attestations)
        attestation = Manifest.from_bytes(attestation_bytes)
        for desc in (attestation.config, *attestation.layers):
            self._push_blob(desc, "config", threading.Event())
        self.client.put_manifest(
            self.repo, record.attestations, attestation_bytes, attestation.media_type
        )
        index = attested_image_index(self.store, record)
        assert index is not None
        index_bytes = index.to_bytes()
        digest = self.client.put_manifest(self.repo, tag, index_bytes, mediatypes.OCI_INDEX)
        self.emit(Descriptor(mediatypes.OCI_INDEX, digest, len(index_bytes)), "index", "done")
        return digest

    def _push_blob(self, desc: Descriptor, kind: Kind, cancel: threading.Event) -> None:
        if cancel.is_set():
            raise Cancelled()
        with self.done_lock:
            if desc.digest in self.done:  # another platform of this push had it
                self.emit(desc, kind, "exists", desc.size)
                return
        self._upload(desc, kind)
        with self.done_lock:
            self.done.add(desc.digest)

    def _upload(self, desc: Descriptor, kind: Kind) -> None:
        if self.client.has_blob(self.repo, desc.digest, push=True):
            self.emit(desc, kind, "exists", desc.size)
            return
        for source in self.sources.get(desc.digest, [])[:_MAX_MOUNT_TRIES]:
            try:
                if self.client.mount_blob(self.repo, desc.digest, source):
                    self.emit(desc, kind, "mounted", desc.size)
                    return
            except RegistryUnavailableError:
                raise
            except RegistryStatusError:
                continue  # not allowed to read the source, say: upload instead
        size = self.store.blob_size(desc.digest)
        if size != desc.size:
            raise ImageError(
                f"local blob {desc.digest} is {size} bytes, the manifest says {desc.size}",
                hint="the store is damaged; pull or build the image again",
            )
        self.emit(desc, kind, "uploading", 0)
        with self.store.open_blob(desc.digest) as source_file:
            self.client.upload_blob(
                self.repo,
                desc.digest,
                size,
                source_file,
                progress=lambda done: self.emit(desc, kind, "uploading", done),
            )
        self.emit(desc, kind, "done", desc.size)
