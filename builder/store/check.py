"""`pybuild system check`: verify the store, and optionally repair it.

What is checked, under the exclusive GC lock (no build, pull or load runs
meanwhile, as for prune):

- the image index parses (if not, nothing else that depends on it is judged,
  and nothing is repaired: a corrupt index is restored, never guessed);
- every blob hashes to its name (repair: the blob is removed);
- every image's closure: manifest, config and layers present and intact,
  sizes as the manifest says, the record's layers and chain IDs those of its
  manifest and config (repair: the record is dropped, as if `rmi` had run);
- every image's attestation blobs (SBOM, provenance) present and intact
  (repair: the attestations are unlinked; the image stays);
- every snapshot an image names exists with its `fs` dir (repair: the layer
  is unpacked again from its blob, the record dropped if that fails).
  Snapshot contents are not re-hashed: a snapshot is renamed into place
  only after its diff_id was verified, so its name is its check;
- no snapshot dir is orphaned (used by no image or build cache entry) or
  malformed, and no temp entry is left from a killed writer (repair: they
  are removed). These are garbage, not damage: they are reported and
  repaired, but do not make the store unhealthy.

Blobs that no image uses are only counted: `pybuild prune` frees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from builder.errors import ImageError, PybuildError
from builder.image.digest import chain_ids, new_hasher
from builder.image.model import ImageConfig, Manifest
from builder.store import snapshots
from builder.store.blobs import iter_blobs, read_blob
from builder.store.files import remove_tree, unlink_quietly
from builder.store.gc import _build_cache_references, _temp_entries
from builder.store.index import load_index, update_index
from builder.store.paths import TEMP_PREFIX, StoreLayout
from builder.store.records import IndexRecord, StoredImage

_CHUNK = 1 << 20
_CHAIN_HEX = re.compile(r"[0-9a-f]{64}")
#: A manifest or config larger than this is not read into memory.
_MAX_DOCUMENT = 32 << 20


class Severity(Enum):
    PROBLEM = "problem"  #: damage: the store is unhealthy until repaired
    GARBAGE = "garbage"  #: left over, harmless: reported and removed by --repair


@dataclass(frozen=True)
class Finding:
    """One thing found wrong, and what --repair did about it ("" if nothing)."""

    severity: Severity
    subject: str  #: a blob digest, image ID, snapshot dir or file
    message: str
    repair: str = ""

    @property
    def repaired(self) -> bool:
        return bool(self.repair)


@dataclass
class CheckReport:
    """What `check` looked at and found."""

    blobs: int = 0
    images: int = 0
    snapshots: int = 0
    unreferenced_blobs: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        """Damage that is still there (not repaired)."""
        return [f for f in self.findings if f.severity is Severity.PROBLEM and not f.repaired]

    @property
    def healthy(self) -> bool:
        return not self.problems


def _blob_is_intact(layout: StoreLayout, digest: str) -> bool:
    hasher = new_hasher(digest)
    try:
        with layout.blob(digest).open("rb") as stream:
            while block := stream.read(_CHUNK):
                hasher.update(block)
    except OSError:
        return False
    return f"{hasher.name}:{hasher.hexdigest()}" == digest


class _Checker:
    def __init__(self, layout: StoreLayout, repair: bool):
        self.layout = layout
        self.repair = repair
        self.report = CheckReport()
        self.corrupt: set[str] = set()

    def add(self, severity: Severity, subject: str, message: str, repair: str = "") -> None:
        self.report.findings.append(
            Finding(severity, subject, message, repair if self.repair else "")
        )

    def run(self) -> CheckReport:
        self.check_blobs()
        try:
            index = load_index(self.layout)
        except PybuildError as err:
            self.add(Severity.PROBLEM, str(self.layout.index), err.message)
            return self.report  # without the index, no orphan or record can be judged
        self.report.images = len(index.images)
        for image in list(index.images.values()):
            self.check_image(image)
        for record in list(index.indexes.values()):
            self.check_index(record)
        self.check_snapshots()
        self.check_temp()
        return self.report

    # -- blobs -----------------------------------------------------------------------------

    def check_blobs(self) -> None:
        for digest, path in iter_blobs(self.layout):
            self.report.blobs += 1
            if _blob_is_intact(self.layout, digest):
                continue
            self.corrupt.add(digest)
            if self.repair:
                unlink_quietly(path)
            self.add(Severity.PROBLEM, digest, "blob does not hash to its name", "removed")

    # -- images ----------------------------------------------------------------------------

    def _closure_error(self, image: StoredImage) -> str | None:
        """Why the image's closure is broken; None if it is whole."""
        record = image.record
        for digest in (record.manifest_digest, record.config_digest, *image.layers):
            if digest in self.corrupt:
                return f"blob {digest} is corrupt"
            if not self.layout.blob(digest).is_file():
                return f"blob {digest} is missing"
        try:
            manifest = Manifest.from_bytes(self._document(record.manifest_digest))
            config = ImageConfig.from_bytes(self._document(record.config_digest))
        except ImageError as err:
            return err.message
        if manifest.config.digest != record.config_digest:
            return f"its manifest names config {manifest.config.digest}"
        if tuple(d.digest for d in manifest.layers) != image.layers:
            return "its record's layers are not its manifest's"
        for descriptor in (manifest.config, *manifest.layers):
            actual = self.layout.blob(descriptor.digest).stat().st_size
            if actual != descriptor.size:
                size = descriptor.size
                return f"blob {descriptor.digest} is {actual} bytes, the manifest says {size}"
        if len(config.diff_ids) != len(manifest.layers):
            return "its config and manifest disagree on the number of layers"
        if tuple(chain_ids(config.diff_ids)) != image.chain_ids:
            return "its record's chain IDs are not those of its config's diff_ids"
        return None

    def _document(self, digest: str) -> bytes:
        if self.layout.blob(digest).stat().st_size > _MAX_DOCUMENT:
            raise ImageError(f"blob {digest} is too large for a manifest or config")
        return read_blob(self.layout, digest)

    def check_image(self, image: StoredImage) -> None:
        record = image.record
        error = self._closure_error(image)
        if error is not None:
            self._drop(record.id, f"image {_label(image)}: {error}")
            return
        self.check_attestations(image)
        missing = [c for c in image.chain_ids if not _snapshot_ok(self.layout, c)]
        if not missing:
            return
        message = f"image {_label(image)}: snapshot {missing[0]} is missing"
        if len(missing) > 1:
            message += f" (and {len(missing) - 1} more)"
        if not self.repair:
            self.add(Severity.PROBLEM, record.id, message, "")
            return
        try:
            manifest = Manifest.from_bytes(read_blob(self.layout, record.manifest_digest))
            config = ImageConfig.from_bytes(read_blob(self.layout, record.config_digest))
            for chain in missing:
                remove_tree(self.layout.snapshot(chain))  # a malformed dir, if any
            snapshots.ensure_snapshots(self.layout, manifest.layers, config.diff_ids)
        except PybuildError as err:
            self._drop(record.id, f"{message}; unpacking it again failed: {err.message}")
            return
        self.add(Severity.PROBLEM, record.id, message, "unpacked again")

    def check_attestations(self, image: StoredImage) -> None:
        """An image's attestation blobs present and intact (repair: unlink them, keep the image)."""
        bad = [
            d
            for d in image.attestation_blobs
            if d in self.corrupt or not self.layout.blob(d).is_file()
        ]
        if not bad:
            return
        message = f"image {_label(image)}: attestation blob {bad[0]} is missing or corrupt"
        if self.repair:
            with update_index(self.layout) as index:
                if image.record.id in index.images:
                    index.set_attestations(image.record.id, None, ())
        self.add(Severity.PROBLEM, image.record.id, message, "attestations unlinked")

    def check_index(self, record: IndexRecord) -> None:
        """A multi-platform image: its index blob is whole and each platform's image is here."""
        label = f"{record.short_id} ({record.names[0]})" if record.names else record.short_id
        error = None
        if record.digest in self.corrupt:
            error = f"blob {record.digest} is corrupt"
        elif not self.layout.blob(record.digest).is_file():
            error = f"blob {record.digest} is missing"
        else:
            index = load_index(self.layout)  # after the image repairs above
            for platform, manifest in record.platforms:
                if index.image_with_manifest(manifest) is None:
                    error = f"its {platform} image {manifest} is not in the store"
                    break
        if error is None:
            return
        if self.repair:
            with update_index(self.layout) as index:
                if record.digest in index.indexes:
                    index.delete_index(record.digest)
        self.add(
            Severity.PROBLEM, record.digest, f"multi-platform image {label}: {error}",
            "index record dropped",
        )  # fmt: skip

    def _drop(self, image_id: str, message: str) -> None:
        if self.repair:
            with update_index(self.layout) as index:
                if image_id in index.images:
                    index.delete(image_id)
        self.add(Severity.PROBLEM, image_id, message, "image record dropped")

    # -- snapshots and leftovers -----------------------------------------------------------

    def check_snapshots(self) -> None:
        index = load_index(self.layout)  # after the repairs above
        by_images = {c.split(":", 1)[1] for i in index.images.values() for c in i.chain_ids}
        cache_blobs, by_cache = _build_cache_references(self.layout)
        for path in _snapshot_dirs(self.layout):
            self.report.snapshots += 1
            if path.name in by_images:
                continue  # judged with its image
            if not _CHAIN_HEX.fullmatch(path.name):
                severity, why = Severity.GARBAGE, "is not named by a chain ID"
            elif path.name not in by_cache:
                severity, why = Severity.GARBAGE, "is used by no image or build cache entry"
            elif not (path / snapshots.FS_DIR).is_dir():
                severity, why = Severity.PROBLEM, "of a build cache entry has no fs directory"
            else:
                continue
            if self.repair:
                remove_tree(path)
            self.add(severity, str(path), f"snapshot dir {why}", "removed")
        blobs_used = {d for i in index.images.values() for d in i.blobs} | cache_blobs
        blobs_used |= {i.digest for i in index.indexes.values()}
        self.report.unreferenced_blobs = sum(
            1 for digest, _ in iter_blobs(self.layout) if digest not in blobs_used
        )

    def check_temp(self) -> None:
        for entry in _temp_entries(self.layout):
            if self.repair:
                remove_tree(entry)
            self.add(
                Severity.GARBAGE, str(entry), "temp entry left by an interrupted writer", "removed"
            )


def _snapshot_dirs(layout: StoreLayout) -> Iterator[Path]:
    if not layout.snapshots.is_dir():
        return iter(())
    return (p for p in sorted(layout.snapshots.iterdir()) if not p.name.startswith(TEMP_PREFIX))


def _snapshot_ok(layout: StoreLayout, chain_id: str) -> bool:
    return (layout.snapshot(chain_id) / snapshots.FS_DIR).is_dir()


def _label(image: StoredImage) -> str:
    record = image.record
    return f"{record.short_id} ({record.names[0]})" if record.names else record.short_id


def check_store(layout: StoreLayout, *, repair: bool) -> CheckReport:
    """Check the store (call with the exclusive GC lock held); repair what can be repaired."""
    return _Checker(layout, repair).run()


__all__ = ["CheckReport", "Finding", "Severity", "check_store"]
