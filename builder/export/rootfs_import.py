"""`pybuild import`: a root filesystem tarball becomes a one-layer image.

Like `docker import`: the tar (plain, gzip, zstd, bzip2 or xz) is read once,
every member is checked against the hostile-input rules (a bad one raises
LayerError), and it is stored as one gzip layer, unpacked into its snapshot
before the image record is written: a failure adds no image and moves no
name. The config is for the host platform, with one history entry
`{"created_by": "pybuild import", "comment": "Imported from FILE"}`.
Media types are OCI's.

`created` is not the time of the import (docker's choice), so that the same
tarball always gives the same image ID: it is `SOURCE_DATE_EPOCH` when the
caller gives one, else the newest mtime in the tarball (when its files were
last changed), never later than now; 1970-01-01 for a tarball without entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError, UsageError
from builder.image import mediatypes
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.image.platform import Platform, host_platform, normalize
from builder.image.reference import ReferenceError, parse_tag

if TYPE_CHECKING:
    from builder.store import ImageRecord, Store

CREATED_BY = "pybuild import"


def rfc3339(seconds: int) -> str:
    """Seconds since the Unix epoch as RFC 3339 in UTC (`1970-01-01T00:00:00Z`)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def created_of(newest_mtime: int, *, now: float | None = None) -> str:
    """`created` of an imported tarball whose newest entry is `newest_mtime` (clamped to now)."""
    latest = int(datetime.now(UTC).timestamp() if now is None else now)
    return rfc3339(max(0, min(newest_mtime, latest)))


@contextlib.contextmanager
def _opened(source: Path | BinaryIO) -> Iterator[BinaryIO]:
    if not isinstance(source, Path):
        yield source
        return
    try:
        stream = source.open("rb")
    except OSError as err:
        raise ImageError(f"cannot open {source}: {err.strerror}") from None
    with stream:
        yield stream


def import_config(
    diff_id: str, *, created: str, comment: str, platform: Platform | None = None
) -> ImageConfig:
    """The image config of an imported root filesystem (for `platform`, default the host's)."""
    platform = normalize(platform) if platform is not None else host_platform()
    return ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        diff_ids=[diff_id],
        history=[History(created=created, created_by=CREATED_BY, comment=comment)],
        created=created,
    )


def import_rootfs(
    store: Store,
    source: Path | BinaryIO,
    name: str | None = None,
    *,
    message: str | None = None,
    source_label: str | None = None,
    created: str | None = None,
    edit_config: Callable[[ImageConfig], None] | None = None,
    platform: Platform | None = None,
) -> ImageRecord:
    """Import a rootfs tar (a path, or a stream such as stdin) as a new image.

    `name` (e.g. `busybox:1`) is normalized and tagged. The history comment is
    `message`, else `Imported from <source_label>` (default: the path, or `-`
    for a stream). `created` (RFC 3339) defaults to the newest mtime in the
    tarball (see the module docstring). `edit_config` changes the config in
    place before it is stored (`import --change`).
    With `platform` (`import --platform`), the image is for that platform and
    `name` keeps naming its other platforms: the name then names an index of
    them all (`Store.add_platform`).
    """
    from builder.snapshot.layer import recompress_tar

    full_name = None
    if name is not None:
        try:
            full_name = str(parse_tag(name))
        except ReferenceError as err:
            raise UsageError(str(err)) from None
    label = source_label or (str(source) if isinstance(source, Path) else "-")
    with store.lease():
        with _opened(source) as stream, store.blob_writer() as writer:
            layer = recompress_tar(stream, writer, compression="gzip")
        created = created or created_of(layer.newest_mtime)
        config = import_config(
            layer.diff_id,
            created=created,
            comment=message or f"Imported from {label}",
            platform=platform,
        )
        if edit_config is not None:
            edit_config(config)
        config_bytes = config.to_bytes()
        manifest = Manifest(
            config=Descriptor(
                mediatypes.OCI_CONFIG, store.put_blob(config_bytes), len(config_bytes)
            ),
            layers=(Descriptor(mediatypes.OCI_LAYER_GZIP, writer.digest, writer.size),),
            media_type=mediatypes.OCI_MANIFEST,
        )
        manifest_digest = store.put_blob(manifest.to_bytes())
        from builder.store import IncomingImage

        names = (full_name,) if full_name and platform is None else ()
        record = store.add_unpacked_images([IncomingImage(manifest_digest, names)])[0]
        if full_name and platform is not None:
            store.add_platform(full_name, manifest_digest)
        return record
