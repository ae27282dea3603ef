"""`pybuild load`: images from a docker-archive, an OCI archive or an OCI layout directory.

The input is hostile until checked (see `archive_reader`). Loading is all or
nothing for image records: every blob of every image in the archive is
verified first, then every layer is unpacked into its snapshot (diff_ids
checked), and only then are the records added, in one index update. A
truncated, corrupt or hostile archive raises ImageError (DigestMismatchError
for a damaged blob, LayerError for a layer that cannot be unpacked) and adds
no image, no name and no snapshot. Blobs it wrote before the damage was found belong to no
image; the next `pybuild prune` removes them (the lease held while loading
keeps a concurrent prune from racing the load).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError
from builder.export.archive_reader import ArchiveFiles, LayoutDirFiles, TarArchiveFiles
from builder.export.docker_archive import MANIFEST_FILE, docker_archive_images
from builder.export.oci_layout import is_layout, layout_images
from builder.export.staging import StagedImage, StagedIndex
from builder.image.platform import Platform

if TYPE_CHECKING:
    from builder.store import ImageRecord, IndexRecord, Store


def _ignore(_message: str) -> None:
    return None


def stage_images(
    store: Store, files: ArchiveFiles, *, warn: Callable[[str], None], platform: Platform | None
) -> list[StagedImage | StagedIndex]:
    """Detect the format and stage its images (docker's manifest.json wins, as in docker load)."""
    if files.exists(MANIFEST_FILE):
        return list(docker_archive_images(store, files))
    if is_layout(files):
        return layout_images(store, files, warn=warn, platform=platform)
    raise ImageError(
        "not an image archive: it has neither manifest.json (docker-archive) "
        "nor oci-layout and index.json (OCI layout)",
        hint="give a file written by `docker save`, `pybuild save` or `skopeo copy`",
    )


def load_archive(
    store: Store,
    source: Path | BinaryIO,
    *,
    warn: Callable[[str], None] | None = None,
    platform: Platform | None = None,
) -> list[ImageRecord | IndexRecord]:
    """Load every image of an archive (path or stream; plain or compressed) or layout directory.

    Returns the added image records, in archive order, then the multi-platform
    images (index records). `warn` receives notes such as an OCI entry whose
    bare tag names no repository (loaded unnamed). A named nested index whose
    platforms are all in the archive is loaded whole, unless `platform` is
    given; other nested indexes pick `platform` (default: the host's).
    """
    warn = warn or _ignore
    with store.lease():
        if isinstance(source, Path) and source.is_dir():
            staged = stage_images(
                store, LayoutDirFiles(store, source), warn=warn, platform=platform
            )
        elif isinstance(source, Path):
            try:
                stream = source.open("rb")
            except OSError as err:
                raise ImageError(f"cannot open {source}: {err.strerror}") from None
            with stream:
                files = TarArchiveFiles.read(store, stream)
                staged = stage_images(store, files, warn=warn, platform=platform)
        else:
            files = TarArchiveFiles.read(store, source)
            staged = stage_images(store, files, warn=warn, platform=platform)
        from builder.store import IncomingImage

        images = [s for s in staged if isinstance(s, StagedImage)]
        records: list[ImageRecord | IndexRecord] = list(
            store.add_unpacked_images(
                [IncomingImage(image.manifest_digest, tuple(image.names)) for image in images]
            )
        )
        for index in (s for s in staged if isinstance(s, StagedIndex)):
            records.append(store.add_index(index.digest, names=index.names))
        return records
