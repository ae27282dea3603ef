"""The image index: one JSON file of image records and their names.

Readers read `index.json` without a lock: it is only ever replaced whole by
a rename, so it is always complete. Writers take the exclusive index lock,
re-read the file inside it, change it and write it back atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from builder.errors import ImageError, StoreError
from builder.store.files import store_error, write_atomically
from builder.store.locks import file_lock
from builder.store.paths import StoreLayout, temp_name
from builder.store.records import ImageRecord, IndexRecord, StoredImage

#: Version 2 adds `indexes` (multi-platform images). A store without any is
#: still written as version 1, which older pybuilds read; both are read.
INDEX_VERSION = 2
_READABLE_VERSIONS = (1, 2)


@dataclass
class ImageIndex:
    """Image records keyed by image ID (config digest), index records by index digest.

    A name is on at most one image or index.
    """

    images: dict[str, StoredImage] = field(default_factory=dict)
    indexes: dict[str, IndexRecord] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageIndex:
        obj = json.loads(data)
        if not isinstance(obj, dict) or obj.get("version") not in _READABLE_VERSIONS:
            raise ImageError(f"not a version 1 to {INDEX_VERSION} image index")
        entries = obj.get("images")
        if not isinstance(entries, list):
            raise ImageError("'images' is not a list")
        multi = obj.get("indexes", [])
        if not isinstance(multi, list):
            raise ImageError("'indexes' is not a list")
        index = cls()
        for entry in entries:
            image = StoredImage.from_json(entry)
            index.images[image.record.id] = image
        for entry in multi:
            record = IndexRecord.from_json(entry)
            index.indexes[record.digest] = record
        return index

    def to_bytes(self) -> bytes:
        entries = [self.images[key].to_json() for key in sorted(self.images)]
        if not self.indexes:
            return json.dumps({"version": 1, "images": entries}, indent=1).encode()
        multi = [self.indexes[key].to_json() for key in sorted(self.indexes)]
        document = {"version": INDEX_VERSION, "images": entries, "indexes": multi}
        return json.dumps(document, indent=1).encode()

    # --- indexes (multi-platform images) -----------------------------------------------

    def index_with_name(self, name: str) -> IndexRecord | None:
        return next((i for i in self.indexes.values() if name in i.names), None)

    def index_with_repo_digest(self, repo_digest: str) -> IndexRecord | None:
        return next((i for i in self.indexes.values() if repo_digest in i.repo_digests), None)

    def image_with_manifest(self, manifest_digest: str) -> StoredImage | None:
        return next(
            (i for i in self.images.values() if i.record.manifest_digest == manifest_digest), None
        )

    def put_index(self, record: IndexRecord) -> IndexRecord:
        """Add an index record, or merge names into the one with its digest; take its names."""
        old = self.indexes.get(record.digest)
        if old is not None:
            record = replace(
                record,
                names=tuple(dict.fromkeys(old.names + record.names)),
                repo_digests=tuple(dict.fromkeys(old.repo_digests + record.repo_digests)),
                added=old.added,
            )
        for name in record.names:
            self._take_name(name, record.digest)
        for repo_digest in record.repo_digests:
            self._take_repo_digest(repo_digest, record.digest)
        self.indexes[record.digest] = record
        return record

    def drop_index_name(self, digest: str, name: str) -> IndexRecord:
        record = self.indexes[digest]
        kept = replace(
            record,
            names=tuple(n for n in record.names if n != name),
            repo_digests=tuple(d for d in record.repo_digests if d != name),
        )
        self.indexes[digest] = kept
        return kept

    def delete_index(self, digest: str) -> None:
        del self.indexes[digest]

    def referenced_by_indexes(self) -> set[str]:
        """Manifest digests a named index points at (their images are not dangling)."""
        return {m for i in self.indexes.values() if i.names or i.repo_digests for m in i.manifests}

    def records(self) -> list[ImageRecord]:
        """All records, newest first."""
        records = [image.record for image in self.images.values()]
        return sorted(records, key=lambda r: (-r.added, r.id))

    def with_name(self, name: str) -> StoredImage | None:
        return next((i for i in self.images.values() if name in i.record.names), None)

    def with_repo_digest(self, repo_digest: str) -> StoredImage | None:
        return next((i for i in self.images.values() if repo_digest in i.record.repo_digests), None)

    def _set_record(self, image: StoredImage, **changes: object) -> StoredImage:
        updated = replace(image, record=replace(image.record, **changes))  # type: ignore[arg-type]
        self.images[image.record.id] = updated
        return updated

    def put(self, image: StoredImage) -> StoredImage:
        """Add an image, or update the one with its ID.

        An update takes the new manifest, merges the names and keeps the first `added`;
        it keeps the attestations when it brings none for the same manifest.
        """
        old = self.images.get(image.record.id)
        if old is not None:
            keep = (
                image.record.attestations is None
                and old.record.attestations is not None
                and old.record.manifest_digest == image.record.manifest_digest
            )
            if keep:
                image = replace(image, attestation_blobs=old.attestation_blobs)
            merged = replace(
                image.record,
                attestations=old.record.attestations if keep else image.record.attestations,
                names=tuple(dict.fromkeys(old.record.names + image.record.names)),
                repo_digests=tuple(
                    dict.fromkeys(old.record.repo_digests + image.record.repo_digests)
                ),
                added=old.record.added,
            )
            image = replace(image, record=merged)
        self.images[image.record.id] = image
        for name in image.record.names:
            self._take_name(name, image.record.id)
        for repo_digest in image.record.repo_digests:
            self._take_repo_digest(repo_digest, image.record.id)
        return self.images[image.record.id]

    def _take_name(self, name: str, image_id: str) -> None:
        """Move `name` to `image_id` (an image ID or an index digest) off every other holder."""
        for digest, multi in list(self.indexes.items()):
            if digest != image_id and name in multi.names:
                self.indexes[digest] = replace(
                    multi, names=tuple(n for n in multi.names if n != name)
                )
        for other in list(self.images.values()):
            if other.record.id != image_id and name in other.record.names:
                self._set_record(other, names=tuple(n for n in other.record.names if n != name))

    def _take_repo_digest(self, repo_digest: str, image_id: str) -> None:
        for digest, multi in list(self.indexes.items()):
            if digest != image_id and repo_digest in multi.repo_digests:
                kept = tuple(d for d in multi.repo_digests if d != repo_digest)
                self.indexes[digest] = replace(multi, repo_digests=kept)
        for other in list(self.images.values()):
            if other.record.id != image_id and repo_digest in other.record.repo_digests:
                kept = tuple(d for d in other.record.repo_digests if d != repo_digest)
                self._set_record(other, repo_digests=kept)

    def add_name(self, image_id: str, name: str) -> StoredImage:
        """Point `name` at an image (moving it off any other image, like docker tag)."""
        self._take_name(name, image_id)
        image = self.images[image_id]
        if name in image.record.names:
            return image
        return self._set_record(image, names=(*image.record.names, name))

    def drop_name(self, image_id: str, name: str) -> StoredImage:
        image = self.images[image_id]
        return self._set_record(image, names=tuple(n for n in image.record.names if n != name))

    def drop_repo_digest(self, image_id: str, repo_digest: str) -> StoredImage:
        image = self.images[image_id]
        kept = tuple(d for d in image.record.repo_digests if d != repo_digest)
        return self._set_record(image, repo_digests=kept)

    def set_attestations(
        self, image_id: str, manifest_digest: str | None, blobs: tuple[str, ...]
    ) -> StoredImage:
        """Link (or, with None, unlink) an attestation manifest and its blobs to an image."""
        image = replace(self.images[image_id], attestation_blobs=blobs if manifest_digest else ())
        return self._set_record(image, attestations=manifest_digest)

    def delete(self, image_id: str) -> None:
        del self.images[image_id]


def load_index(layout: StoreLayout) -> ImageIndex:
    """The current index (empty if there is none yet)."""
    try:
        data = layout.index.read_bytes()
    except FileNotFoundError:
        return ImageIndex()
    except OSError as err:
        raise store_error(err, f"reading {layout.index}") from None
    try:
        return ImageIndex.from_bytes(data)
    except (ValueError, ImageError) as err:
        message = err.message if isinstance(err, ImageError) else str(err)
        raise StoreError(
            f"the image index {layout.index} is corrupt: {message}",
            hint="restore it from a backup, or delete it and pull or build the images again",
        ) from None


def save_index(layout: StoreLayout, index: ImageIndex) -> None:
    """Replace index.json atomically (call with the index lock held)."""
    temp = layout.tmp / temp_name("index")
    what = f"writing the image index {layout.index}"
    write_atomically(layout.index, index.to_bytes(), temp, what)


@contextmanager
def update_index(layout: StoreLayout) -> Iterator[ImageIndex]:
    """Lock the index, yield it for changes, write it back if it changed (not on error)."""
    with file_lock(layout.index_lock):
        index = load_index(layout)
        before = index.to_bytes()
        yield index
        if index.to_bytes() != before:
            save_index(layout, index)
