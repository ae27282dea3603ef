"""Hostile layers and images for the entry points that unpack (load, import, pull).

Each case is a layer tar that `apply_layer` must refuse, or an image whose
layer does not match its config. `hostile_image` stores one in a source
store with `Store.add_image` (no unpack), so it can be saved or pushed and
then loaded or pulled elsewhere, where it must fail and leave nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from isal import igzip

from builder.image import mediatypes
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.image.platform import host_platform
from builder.store import ImageRecord, Store

#: 100,000 nested JSON arrays: json.loads alone raises RecursionError on it.
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def symlink_member(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, b""


def hostile_layers(sentinel: Path) -> dict[str, tuple[bytes, str]]:
    """Uncompressed layer tars, each with a regex its error must match."""
    return {
        "dotdot": (tar_of(file_member("ok"), file_member("../x", b"pwned")), r"'\.\.'"),
        "absolute": (tar_of(file_member(str(sentinel / "x"), b"pwned")), "absolute"),
        "long name": (tar_of(file_member("a" * 300)), "too long"),
        "symlink escape": (
            tar_of(symlink_member("esc", str(sentinel)), file_member("esc/x", b"pwned")),
            "symlink",
        ),
    }


@dataclass(frozen=True)
class BadLayer:
    """A layer blob and the diff_id its config announces (maybe not its own)."""

    blob: bytes
    diff_id: str


def gzip_layer(tar: bytes) -> BadLayer:
    return BadLayer(igzip.compress(tar, mtime=0), "sha256:" + hashlib.sha256(tar).hexdigest())


def truncated_layer() -> BadLayer:
    """A gzip layer cut in the middle: its blob digest is right, its tar is not whole."""
    tar = tar_of(file_member("big", bytes(range(256)) * 2000))
    whole = gzip.compress(tar, compresslevel=0, mtime=0)
    return BadLayer(whole[: len(whole) // 2], "sha256:" + hashlib.sha256(tar).hexdigest())


def mismatched_layer() -> BadLayer:
    """A good layer whose config announces another diff_id."""
    good = gzip_layer(tar_of(file_member("etc/x", b"x")))
    return BadLayer(good.blob, "sha256:" + "0" * 64)


def bad_layer_cases(sentinel: Path) -> dict[str, tuple[BadLayer, str]]:
    """Every hostile case as a layer, with the regex its error must match."""
    cases = {
        name: (gzip_layer(tar), match) for name, (tar, match) in hostile_layers(sentinel).items()
    }
    cases["truncated layer"] = (truncated_layer(), "truncated|ends|corrupt|unexpected")
    cases["diff_id mismatch"] = (mismatched_layer(), "diff_id")
    return cases


def hostile_image(store: Store, layer: BadLayer, name: str) -> ImageRecord:
    """An image of a good base layer and `layer`, recorded (not unpacked) as `name`."""
    base = gzip_layer(tar_of(file_member("etc/base", b"base")))
    platform = host_platform()
    layer_type = mediatypes.layer_media_type("gzip", docker=False)
    layers = (base, layer)
    descriptors = tuple(
        Descriptor(layer_type, store.put_blob(item.blob), len(item.blob)) for item in layers
    )
    config = ImageConfig(
        architecture=platform.architecture,
        os=platform.os,
        variant=platform.variant,
        diff_ids=[item.diff_id for item in layers],
        history=[History(created="2024-01-01T00:00:00Z", created_by="test") for _ in layers],
        created="2024-01-01T00:00:00Z",
    )
    config_bytes = config.to_bytes()
    manifest = Manifest(
        Descriptor(mediatypes.OCI_CONFIG, store.put_blob(config_bytes), len(config_bytes)),
        descriptors,
        media_type=mediatypes.OCI_MANIFEST,
    )
    return store.add_image(store.put_blob(manifest.to_bytes()), names=[name])


def snapshot_dirs(store: Store) -> set[str]:
    """The names under the store's snapshots/ (temp dirs included)."""
    return {p.name for p in (Path(store.root) / "snapshots").iterdir()}


def tree_listing(path: Path) -> dict[str, bytes | str]:
    """Every file under `path` with its bytes (symlinks: their target), for before/after."""
    found: dict[str, bytes | str] = {}
    for entry in sorted(path.rglob("*")):
        key = str(entry.relative_to(path))
        if entry.is_symlink():
            found[key] = str(entry.readlink())
        elif entry.is_file():
            found[key] = entry.read_bytes()
        else:
            found[key] = "dir"
    return found
