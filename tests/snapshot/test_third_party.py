"""Layers written by write_layer, read by other tools: umoci (Go's gzip and tar readers), GNU tar."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from builder.image import mediatypes
from builder.snapshot.layer import LayerBlob, write_layer
from tests.snapshot.conftest import require_tool
from tests.snapshot.helpers import make_tree, tree_state


def put_blob(layout: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(data)
    return "sha256:" + digest


def oci_layout(layout: Path, layer: bytes, blob: LayerBlob) -> None:
    """A one-layer OCI image tagged `latest`."""
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [blob.diff_id]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {
                "mediaType": mediatypes.OCI_CONFIG,
                "digest": put_blob(layout, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": mediatypes.layer_media_type(blob.compression, docker=False),
                    "digest": put_blob(layout, layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": put_blob(layout, manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))


def comparable(state: dict[str, tuple[object, ...]]) -> dict[str, tuple[object, ...]]:
    """type, mode, owner, content/target, hard-link group: what every unpacker keeps."""
    return {path: (*entry[:4], entry[5], entry[7:]) for path, entry in state.items()}


@pytest.mark.parametrize("compression", ["gzip", "none"])  # umoci 0.4.7 predates zstd layers
def test_umoci_unpacks_our_layer(tmp_path: Path, compression: str, root_user: None) -> None:
    umoci = require_tool("umoci")
    src = make_tree(tmp_path / "src")
    out = io.BytesIO()
    blob = write_layer(src, out, compression=compression)
    oci_layout(tmp_path / "image", out.getvalue(), blob)
    rootfs = tmp_path / "rootfs"
    result = subprocess.run(
        [umoci, "raw", "unpack", "--image", f"{tmp_path / 'image'}:latest", str(rootfs)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert comparable(tree_state(rootfs)) == comparable(tree_state(src))
    # umoci keeps mtimes of files too
    assert os.lstat(rootfs / "etc/passwd").st_mtime_ns == os.lstat(src / "etc/passwd").st_mtime_ns
    assert stat.S_IMODE(os.stat(rootfs / "usr/bin/ping").st_mode) == 0o4755


def test_gnu_tar_lists_our_layer(tmp_path: Path, root_user: None) -> None:
    tar = require_tool("tar")
    src = make_tree(tmp_path / "src", devices=False)
    layer = tmp_path / "layer.tar.gz"
    with open(layer, "wb") as out:
        write_layer(src, out, compression="gzip")
    listing = subprocess.run([tar, "-tzf", str(layer)], capture_output=True, check=True).stdout
    names = listing.decode("utf-8", "surrogateescape").splitlines()
    assert "etc/" in names and "usr/bin/ping" in names and "bin" in names
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(
        [tar, "-xzf", str(layer), "-C", str(unpacked), "--xattrs", "--xattrs-include=*"], check=True
    )
    assert (unpacked / "etc/passwd").read_bytes() == (src / "etc/passwd").read_bytes()
    assert os.getxattr(unpacked / "etc/passwd", "user.binary") == b"\x00\xff\xfe"
