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
from builder.store.records import ImageRecord, StoredImage

INDEX_VERSION = 1


@dataclass
class ImageIndex:
    """Image records keyed by image ID (config digest); a name is on at most one image."""

    images: dict[str, StoredImage] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageIndex:
        obj = json.loads(data)
        if not isinstance(obj, dict) or obj.get("version") != INDEX_VERSION:
            raise ImageError(f"not a version {INDEX_VERSION} image index")
        entries = obj.get("images")
        if not isinstance(entries, list):
            raise ImageError("'images' is not a list")
        index = cls()
        for entry in entries:
            image = StoredImage.from_json(entry)
            index.images[image.record.id] = image
        return index

    def to_bytes(self) -> bytes:
        entries = [self.images[key].to_json() for key in sorted(self.images)]
        return json.dumps({"version": INDEX_VERSION, "images": entries}, indent=1).encode()

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
        for other in list(self.images.values()):
            if other.record.id != image_id and name in other.record.names:
                self._set_record(other, names=tuple(n for n in other.record.names if n != name))

    def _take_repo_digest(self, repo_digest: str, image_id: str) -> None:
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
