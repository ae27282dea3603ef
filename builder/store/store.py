"""The Store facade: one object over blobs, the image index, snapshots and GC.

Writers (put_blob, blob_writer, ingest_file, add_image, ensure_snapshots)
hold the shared GC lock while they work; a caller that writes several blobs
and then adds the image holds `lease()` across all of it, so prune cannot
take the blobs away in between.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageConflictError, ImageError, StoreError
from builder.image import mediatypes
from builder.image.digest import chain_ids
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.store import blobs, gc, snapshots
from builder.store.blobs import BlobWriter
from builder.store.files import store_error
from builder.store.gc import DiskUsage, PruneReport
from builder.store.index import ImageIndex, load_index, update_index
from builder.store.locks import GcLock
from builder.store.lookup import (
    familiar,
    lookup,
    normalize_name,
    normalize_repo_digest,
    not_found,
    repository,
)
from builder.store.paths import StoreLayout, default_root, temp_name
from builder.store.records import (
    ImageRecord,
    ImageUser,
    IncomingImage,
    IndexRecord,
    StoredImage,
)
from builder.store.recovery import DIR_MODE, RecoveryReport, recover

if TYPE_CHECKING:
    from builder.image.platform import Platform
    from builder.store.check import CheckReport


class Store:
    """A local content store rooted at `root`; several processes may share one."""

    def __init__(self, root: Path) -> None:
        """Use `Store.open`, which also creates the layout."""
        self.root = root
        self._layout = StoreLayout(root)
        #: the first write (a lease, or prune) cleans up after killed processes first
        self._gc = GcLock(self._layout.gc_lock, on_first_use=self._recover)
        self.last_recovery: RecoveryReport | None = None

    def _recover(self) -> None:
        self.last_recovery = recover(self._layout)

    @classmethod
    def open(cls, root: Path | None = None) -> Store:
        """Open the store at `root` (default: `default_root()`), creating the layout if missing.

        New directories are made 0700; existing ones are made so at the first write.
        """
        root = Path(root).absolute() if root is not None else default_root()
        for directory in StoreLayout(root).directories():
            try:
                if directory.is_dir():
                    continue
            except OSError as err:  # EACCES: another user's store
                raise store_error(err, f"opening the store at {root}") from None
            try:
                directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
                os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask
            except OSError as err:
                raise store_error(err, f"creating the store at {root}") from None
        return cls(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    @property
    def cache_root(self) -> Path:
        """`<root>/cache`: where other components keep build caches (counted by disk_usage)."""
        return self._layout.cache

    # --- blobs ---------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        return blobs.has_blob(self._layout, digest)

    def blob_path(self, digest: str) -> Path:
        """The path of an existing blob (StoreError if it is absent)."""
        return blobs.blob_path(self._layout, digest)

    def blob_size(self, digest: str) -> int:
        return blobs.blob_size(self._layout, digest)

    def open_blob(self, digest: str) -> BinaryIO:
        return blobs.open_blob(self._layout, digest)

    def read_blob(self, digest: str) -> bytes:
        """The whole blob, verified against its digest (for manifests and configs)."""
        return blobs.read_blob(self._layout, digest)

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        with self._gc.shared():
            return blobs.put_blob(self._layout, data, expected)

    @contextmanager
    def _leased_writer(
        self, expected: str | None, expected_size: int | None
    ) -> Iterator[BlobWriter]:
        with self._gc.shared(), blobs.blob_writer(self._layout, expected, expected_size) as writer:
            yield writer

    def blob_writer(
        self, expected: str | None = None, expected_size: int | None = None
    ) -> AbstractContextManager[BlobWriter]:
        """A BinaryIO sink for one blob; stored (verified, fsynced) when the block ends."""
        return self._leased_writer(expected, expected_size)

    def ingest_file(self, path: Path, expected: str | None = None) -> tuple[str, int]:
        with self._gc.shared():
            return blobs.ingest_file(self._layout, path, expected)

    # --- images --------------------------------------------------------------------------

    def add_image(
        self, manifest_digest: str, *, names: Iterable[str] = (), repo_digest: str | None = None
    ) -> ImageRecord:
        """Record an image whose manifest, config and layers are already stored.

        A name that points at another image moves to this one. Adding an image
        that is already here merges the names and keeps its `added` time.
        """
        full_names = tuple(dict.fromkeys(normalize_name(n) for n in names))
        repo_digests = (normalize_repo_digest(repo_digest),) if repo_digest else ()
        with self._gc.shared():
            image = self._stored_image(manifest_digest, full_names, repo_digests)
            with update_index(self._layout) as index:
                return index.put(image).record

    def add_unpacked_images(self, images: Sequence[IncomingImage]) -> list[ImageRecord]:
        """Record images only once their closure is stored and every layer is unpacked.

        For `load`, `pull` and `import`: the blobs of each image are checked,
        then all their missing snapshots are unpacked (all or none, see
        `incoming`), and only then are all the records written, in one index
        update. Any failure leaves no new record, no new name, and no
        snapshot unpacked by this call.
        """
        with self._gc.shared():
            stored = [
                self._stored_image(
                    image.manifest_digest,
                    tuple(dict.fromkeys(normalize_name(n) for n in image.names)),
                    (normalize_repo_digest(image.repo_digest),) if image.repo_digest else (),
                )
                for image in images
            ]
            from builder.store import incoming  # load/pull/import only, not builds

            incoming.unpack_images(self._layout, (image.manifest_digest for image in images))
            with update_index(self._layout) as index:
                return [index.put(image).record for image in stored]

    def _stored_image(
        self, manifest_digest: str, names: tuple[str, ...], repo_digests: tuple[str, ...]
    ) -> StoredImage:
        if not self.has_blob(manifest_digest):
            raise StoreError(
                f"cannot add image {manifest_digest}: its manifest is not in the store",
                hint="store the manifest, config and layer blobs first",
            )
        manifest = Manifest.from_bytes(self.read_blob(manifest_digest))
        for what, descriptor in [
            ("config", manifest.config),
            *((f"layer {i}", d) for i, d in enumerate(manifest.layers)),
        ]:
            if not self.has_blob(descriptor.digest):
                raise StoreError(
                    f"cannot add image {manifest_digest}: its {what} {descriptor.digest} "
                    "is not in the store",
                    hint="store the manifest, config and layer blobs first",
                )
            actual = self.blob_size(descriptor.digest)
            if actual != descriptor.size:
                raise ImageError(
                    f"image {manifest_digest}: its {what} {descriptor.digest} is {actual} bytes, "
                    f"but the manifest says {descriptor.size}"
                )
        config = ImageConfig.from_bytes(self.read_blob(manifest.config.digest))
        if len(config.diff_ids) != len(manifest.layers):
            raise ImageError(
                f"image {manifest_digest}: the manifest has {len(manifest.layers)} layers "
                f"but the config lists {len(config.diff_ids)} diff_ids"
            )
        record = ImageRecord(
            manifest_digest=manifest_digest,
            config_digest=manifest.config.digest,
            media_type=manifest.media_type,
            names=names,
            repo_digests=repo_digests,
            created=config.created,
            added=time.time(),
            size=manifest.config.size + sum(layer.size for layer in manifest.layers),
        )
        return StoredImage(
            record,
            layers=tuple(layer.digest for layer in manifest.layers),
            chain_ids=tuple(chain_ids(config.diff_ids)),
        )

    def set_attestations(
        self, image_id: str, manifest_digest: str | None, *, extra_blobs: Sequence[str] = ()
    ) -> ImageRecord:
        """Link an attestation manifest (stored, with its config and layers) to an image.

        `extra_blobs` (the index that lists both, say) are kept with it by prune.
        None unlinks. A later build of the same image with other attestations
        replaces them; adding the image again without any keeps them.
        """
        blobs: tuple[str, ...] = ()
        with self._gc.shared():
            if manifest_digest is not None:
                manifest = Manifest.from_bytes(self.read_blob(manifest_digest))
                blobs = (
                    manifest_digest,
                    manifest.config.digest,
                    *(layer.digest for layer in manifest.layers),
                    *extra_blobs,
                )
                missing = [d for d in blobs if not self.has_blob(d)]
                if missing:
                    raise StoreError(
                        f"cannot link attestations {manifest_digest}: blob {missing[0]} "
                        "is not in the store"
                    )
            with update_index(self._layout) as index:
                if image_id not in index.images:
                    raise not_found(image_id)
                return index.set_attestations(image_id, manifest_digest, blobs).record

    def images(self) -> list[ImageRecord]:
        """Every image, newest first."""
        return load_index(self._layout).records()

    # --- multi-platform images (indexes) -------------------------------------------------

    def indexes(self) -> list[IndexRecord]:
        """Every multi-platform image, newest first."""
        records = load_index(self._layout).indexes.values()
        return sorted(records, key=lambda r: (-r.added, r.digest))

    def find_index(self, text: str) -> IndexRecord | None:
        """The multi-platform image `text` names (name, repo digest, index digest); else None."""
        match = lookup(load_index(self._layout), text)
        return match.index if match else None

    def platforms_of(self, text: str) -> list[tuple[str, ImageRecord]] | None:
        """(platform, image) for each platform of what `text` names; None if nothing matches.

        An image that is not an index has the one platform of its config.
        """
        index = load_index(self._layout)
        match = lookup(index, text)
        if match is None:
            return None
        if match.index is None:
            record = match.image.record
            return [(str(self.config(record).platform), record)]
        found = []
        for platform, manifest in match.index.platforms:
            image = index.image_with_manifest(manifest)
            if image is not None:
                found.append((platform, image.record))
        return found

    def find_for_platform(self, text: str, platform: Platform) -> ImageRecord | None:
        """The image `text` names for `platform` (picked from an index); None if nothing matches.

        PlatformMismatchError when `text` names an image, but none for `platform`.
        """
        from builder.image.platform import parse_platform, platform_satisfies

        offered = self.platforms_of(text)
        if offered is None:
            return None
        for name, record in offered:
            try:
                have = parse_platform(name)
            except ValueError:  # a config without os/architecture: it runs anywhere
                return record
            if platform_satisfies(platform, have):
                return record
        raise PlatformMismatchError(text, platform, [name for name, _ in offered])

    def add_platform(self, name: str, manifest_digest: str) -> IndexRecord | None:
        """Name the stored image `manifest_digest` `name`, keeping the name's other platforms.

        When `name` names nothing, or only an image of this one platform, it
        moves to this image (None is returned). Otherwise a new index names
        the other platforms' images and this one (which replaces one of its
        own platform), and `name` moves to it; that index is returned. All in
        one index update, so concurrent imports of two platforms keep both.
        """
        from builder.image.multiplatform import PlatformManifest, assemble_index
        from builder.image.platform import normalize

        full = normalize_name(name)
        with self._gc.shared():
            added = self._stored_image(manifest_digest, (), ())
            platform = normalize(self.config(added.record).platform)
            with update_index(self._layout) as index:
                match = lookup(index, full)
                held: list[StoredImage] = []
                if match is not None and match.index is not None:
                    found = (index.image_with_manifest(m) for m in match.index.manifests)
                    held = [image for image in found if image is not None]
                elif match is not None:
                    held = [match.image]
                others = [
                    image
                    for image in held
                    if normalize(self.config(image.record).platform) != platform
                    and image.record.id != added.record.id
                ]
                if not others:
                    index.put(replace(added, record=replace(added.record, names=(full,))))
                    return None
                if added.record.id not in index.images:
                    index.put(added)
                manifests = [
                    PlatformManifest(
                        normalize(self.config(image.record).platform),
                        image.record.manifest_digest,
                        self.blob_size(image.record.manifest_digest),
                        image.record.media_type,
                    )
                    for image in [*others, added]
                ]
                docker = all(m.media_type == mediatypes.DOCKER_MANIFEST for m in manifests)
                document = assemble_index(manifests, docker=docker)
                digest = blobs.put_blob(self._layout, document.to_bytes())
                record = IndexRecord(
                    digest=digest,
                    media_type=document.media_type,
                    names=(full,),
                    repo_digests=(),
                    platforms=tuple((str(m.platform), m.digest) for m in manifests),
                    added=time.time(),
                )
                return index.put_index(record)

    def add_index(
        self, index_digest: str, *, names: Iterable[str] = (), repo_digest: str | None = None
    ) -> IndexRecord:
        """Record a multi-platform image whose index and per-platform images are stored.

        Every index entry with a platform must be an image of the store
        (entries without one, such as attestations, are kept in the blob only).
        """
        full_names = tuple(dict.fromkeys(normalize_name(n) for n in names))
        repo_digests = (normalize_repo_digest(repo_digest),) if repo_digest else ()
        with self._gc.shared():
            from builder.image.model import Index

            data = self.read_blob(index_digest)
            document = Index.from_bytes(data)
            with update_index(self._layout) as index:
                platforms = []
                for entry in document.manifests:
                    if entry.platform is None or entry.platform.os == "unknown":
                        continue
                    if index.image_with_manifest(entry.digest) is None:
                        raise StoreError(
                            f"cannot add index {index_digest}: its {entry.platform} image "
                            f"{entry.digest} is not in the store",
                            hint="add each platform's image first",
                        )
                    platforms.append((str(entry.platform), entry.digest))
                record = IndexRecord(
                    digest=index_digest,
                    media_type=document.media_type,
                    names=full_names,
                    repo_digests=repo_digests,
                    platforms=tuple(platforms),
                    added=time.time(),
                )
                return index.put_index(record)

    def find(self, text: str) -> ImageRecord | None:
        """The image named by name[:tag], name@digest, ID or unambiguous ID prefix; else None."""
        match = lookup(load_index(self._layout), text)
        return match.image.record if match else None

    def resolve(self, text: str) -> ImageRecord:
        """Like find, but ImageNotFoundError when nothing matches."""
        record = self.find(text)
        if record is None:
            raise not_found(text)
        return record

    def manifest(self, record: ImageRecord) -> Manifest:
        return Manifest.from_bytes(self.read_blob(record.manifest_digest), record.media_type)

    def config_bytes(self, record: ImageRecord) -> bytes:
        return self.read_blob(record.config_digest)

    def config(self, record: ImageRecord) -> ImageConfig:
        return ImageConfig.from_bytes(self.config_bytes(record))

    def tag(self, source: str, target: str) -> ImageRecord:
        """Point the name `target` at the image `source` names (moving it, like docker tag)."""
        name = normalize_name(target)
        with update_index(self._layout) as index:
            match = lookup(index, source)
            if match is None:
                raise not_found(source)
            if match.index is not None:
                index.put_index(replace(match.index, names=(name,), repo_digests=()))
                return match.image.record
            return index.add_name(match.image.record.id, name).record

    def remove(
        self, text: str, *, force: bool = False, users: Sequence[ImageUser] = ()
    ) -> list[str]:
        """docker rmi: untag a name; delete the image record when no name is left.

        By ID, an image named in several repositories needs `force`. `users`
        are the containers: an image one of them uses keeps its last name
        unless `force` (which then only untags), and is never deleted while a
        container runs it. Returns docker's lines ("Untagged: debian:bookworm",
        "Deleted: sha256:..."). Blobs and snapshots are freed by prune.
        """
        lines: list[str] = []
        with update_index(self._layout) as index:
            match = lookup(index, text)
            if match is None:
                raise not_found(text)
            if match.index is not None:
                return _remove_index(index, match.index, match.kind, match.key)
            record = match.image.record
            image_id = record.id
            using = [u for u in users if u.image_id == image_id]
            if match.kind in ("name", "repo_digest"):
                if using and not force and _single_reference(record):
                    raise ImageConflictError(
                        f'conflict: unable to remove repository reference "{text}" (must force) '
                        f"- container {using[0].short_id} is using its referenced image "
                        f"{record.short_id}",
                        hint="remove the container first (pybuild rm), or force the removal",
                    )
                if match.kind == "name":
                    record = index.drop_name(image_id, match.key).record
                    lines.append(f"Untagged: {familiar(match.key)}")
                    if record.names:
                        return lines
                else:
                    record = index.drop_repo_digest(image_id, match.key).record
                    lines.append(f"Untagged: {familiar(match.key)}")
                    if record.names or record.repo_digests:
                        return lines
                if using:  # untagged; the image stays, dangling, for its containers
                    return lines
            else:
                repos = {repository(n) for n in record.names}
                if len(repos) > 1 and not force:
                    raise ImageConflictError(
                        f"conflict: unable to delete {record.short_id} (must be forced) - "
                        "image is referenced in multiple repositories",
                        hint="remove it by name, or force the removal",
                    )
            _check_users(record, using, force)
            lines.extend(f"Untagged: {familiar(n)}" for n in record.names + record.repo_digests)
            index.delete(image_id)
            lines.append(f"Deleted: {image_id}")
        return lines

    # --- snapshots -----------------------------------------------------------------------

    def snapshot_path(self, chain_id: str) -> Path:
        """`<root>/snapshots/<hex>/fs` (it may not exist)."""
        return snapshots.snapshot_fs(self._layout, chain_id)

    def ensure_snapshots(self, record: ImageRecord) -> list[Path]:
        """Unpack the image's missing layers; return its overlay lower dirs, base first.

        Hold `lease()` while the returned dirs are in use, or prune may delete them
        once the image is removed.
        """
        with self._gc.shared():
            manifest = self.manifest(record)
            config = self.config(record)
            return snapshots.ensure_snapshots(self._layout, manifest.layers, config.diff_ids)

    def ensure_layer_snapshot(self, chain_id: str, layer: Descriptor, diff_id: str) -> Path:
        """The snapshot of one layer (its lower layers' snapshots exist), unpacked if missing."""
        with self._gc.shared():
            return snapshots.ensure_layer(self._layout, chain_id, layer, diff_id)

    def adopt_snapshot(self, chain_id: str, tree: Path) -> Path:
        """Move a built layer's upper dir (made under `temp_dir()`) in as `chain_id`'s snapshot."""
        with self._gc.shared():
            return snapshots.adopt_snapshot(self._layout, chain_id, tree)

    def temp_dir(self, kind: str) -> Path:
        """A new private directory under the store's tmp/ (same filesystem as snapshots).

        The caller removes it; stale ones go at the next prune.
        """
        path = self._layout.tmp / temp_name(kind)
        try:
            path.mkdir(parents=True, mode=0o700)
        except OSError as err:
            raise store_error(err, f"creating {path}") from None
        return path

    def runtime_root(self, runtime: str) -> Path:
        """`<root>/run/<runtime name>`: the runtime's `--root`, where recovery finds containers."""
        path = self._layout.run / Path(runtime).name
        try:
            path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        except OSError as err:
            raise store_error(err, f"creating {path}") from None
        return path

    # --- sharing and maintenance ---------------------------------------------------------

    def lease(self) -> AbstractContextManager[None]:
        """Hold off prune while blobs not yet referenced by an image are written and used."""
        return self._gc.shared()

    def prune(self, *, all_images: bool = False, build_cache_only: bool = False) -> PruneReport:
        """Remove dangling images (all images with `all_images`; none but the build cache
        with `build_cache_only`), then unused blobs, snapshots and stale temp files.
        Waits for every lease to end."""
        with self._gc.exclusive():
            return gc.prune(self._layout, all_images=all_images, build_cache_only=build_cache_only)

    def check(self, *, repair: bool = False) -> CheckReport:
        """Verify blobs, image closures and snapshots (`system check`); see `check`.

        Waits for every lease to end, like prune; `repair` fixes what it can.
        """
        with self._gc.exclusive():
            from builder.store.check import check_store  # `system check` only

            return check_store(self._layout, repair=repair)

    def disk_usage(self) -> DiskUsage:
        return gc.disk_usage(self._layout)


def _remove_index(index: ImageIndex, record: IndexRecord, kind: str, key: str) -> list[str]:
    """rmi of a multi-platform image: untag it; drop the index when nothing names it.

    Its per-platform images stay until prune removes them as dangling.
    """
    lines: list[str] = []
    if kind in ("name", "repo_digest"):
        record = index.drop_index_name(record.digest, key)
        lines.append(f"Untagged: {familiar(key)}")
        if record.names or record.repo_digests:
            return lines
    lines.extend(f"Untagged: {familiar(n)}" for n in record.names + record.repo_digests)
    index.delete_index(record.digest)
    lines.append(f"Deleted: {record.digest}")
    return lines


class PlatformMismatchError(ImageError):
    """An image exists under the name, but not for the platform asked for."""

    def __init__(self, name: str, wanted: Platform, offered: Sequence[str]) -> None:
        shown = ", ".join(offered) if offered else "no known platform"
        super().__init__(
            f'image "{name}" has no {wanted} variant: it offers {shown}',
            hint=f"build or import a {wanted} image under that name "
            f"(pybuild import --platform {wanted} ROOTFS.tar {name}), or pick one of "
            "its platforms with --platform",
        )
        self.wanted = wanted
        self.offered = list(offered)


def _single_reference(record: ImageRecord) -> bool:
    """docker's isSingleReference: at most one tag, and every name in that one repository."""
    refs = [*record.names, *record.repo_digests]
    if len(record.names) > 1 or not refs:
        return False
    return len({repository(r.split("@", 1)[0]) for r in refs}) == 1


def _check_users(record: ImageRecord, using: Sequence[ImageUser], force: bool) -> None:
    """docker's delete conflicts: a running container always, a stopped one unless forced."""
    running = [u for u in using if u.running]
    if running:
        raise ImageConflictError(
            f"conflict: unable to delete {record.short_id} (cannot be forced) - "
            f"image is being used by running container {running[0].short_id}",
            hint="stop and remove the container first",
        )
    if using and not force:
        raise ImageConflictError(
            f"conflict: unable to delete {record.short_id} (must be forced) - "
            f"image is being used by stopped container {using[0].short_id}",
            hint="remove the container first (pybuild rm), or force the removal",
        )
