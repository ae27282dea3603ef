"""Reading the files an SBOM needs straight from layer tars: whiteouts, opaque dirs, links."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from builder.attest.rootfs import from_layers, wanted
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.model import Descriptor
from builder.store import Store


def layer(store: Store, entries: list[tuple[str, bytes | None, str]]) -> Descriptor:
    """A gzip layer of (name, content, kind): kind "file", "dir", "link" (hard, to content)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content, kind in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.LNKTYPE
                info.linkname = (content or b"").decode()
                tar.addfile(info)
            else:
                info.size = len(content or b"")
                tar.addfile(info, io.BytesIO(content or b""))
    data = gzip.compress(raw.getvalue(), mtime=0)
    digest = store.put_blob(data)
    assert digest == sha256_digest(data)
    return Descriptor(mediatypes.OCI_LAYER_GZIP, digest, len(data))


def test_wanted_paths() -> None:
    assert wanted("var/lib/dpkg/status")
    assert wanted("var/lib/dpkg/status.d/base")
    assert wanted("usr/share/doc/bash/copyright")
    assert wanted("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA")
    assert wanted("srv/app/node_modules/@scope/pkg/package.json")
    assert not wanted("srv/app/package.json")
    assert not wanted("usr/share/doc/bash/changelog.gz")
    assert not wanted("etc/passwd")


def test_layers_apply_in_order(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    site = "usr/lib/python3/dist-packages"
    base = layer(
        store,
        [
            ("var/lib/dpkg/status", b"Package: a\nVersion: 1\n", "file"),
            (f"{site}/old-1.0.dist-info/METADATA", b"Name: old\nVersion: 1.0\n", "file"),
            (f"{site}/keep-1.0.dist-info/METADATA", b"Name: keep\nVersion: 1.0\n", "file"),
            ("app/node_modules/x/package.json", b'{"name": "x", "version": "1"}', "file"),
            ("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", "file"),
        ],
    )
    top = layer(
        store,
        [
            ("./var/lib/dpkg/status", b"Package: a\nVersion: 2\n", "file"),  # replaced
            (f"{site}/.wh.old-1.0.dist-info", None, "file"),  # removed, with what is below
            ("app/node_modules/.wh..wh..opq", None, "file"),  # everything lower is hidden
            ("app/node_modules/y/package.json", b'{"name": "y", "version": "2"}', "file"),
            ("usr/share/doc/a/copyright", b"text", "file"),
            ("usr/share/doc/b/copyright", b"usr/share/doc/a/copyright", "link"),
        ],
    )
    files = from_layers(store, [base, top])
    assert sorted(files) == [
        "app/node_modules/y/package.json",
        f"{site}/keep-1.0.dist-info/METADATA",
        "usr/share/doc/a/copyright",
        "usr/share/doc/b/copyright",
        "var/lib/dpkg/status",
    ]
    assert files["var/lib/dpkg/status"] == b"Package: a\nVersion: 2\n"
    assert files["usr/share/doc/b/copyright"] == b"text"
    assert files.origin["var/lib/dpkg/status"] == top.digest
    assert files.origin[f"{site}/keep-1.0.dist-info/METADATA"] == base.digest
