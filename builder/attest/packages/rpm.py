"""rpm: the sqlite rpmdb (`/var/lib/rpm/rpmdb.sqlite`, Fedora 33+, RHEL 9, SUSE).

Each row of its `Packages` table is an rpm header blob: a count of index
entries, the size of the data store, 16-byte big-endian entries (tag,
type, offset, count), then the data. Only the string and int32 tags an
SBOM needs are read. The older Berkeley DB (`Packages`) and ndb
(`Packages.db`) formats are not read.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import tempfile
from collections.abc import Mapping

from builder.attest.packages.model import Package, purl
from builder.attest.packages.osrelease import Distro

DATABASES = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")

NAME, VERSION, RELEASE, EPOCH, SUMMARY, VENDOR, LICENSE, URL, ARCH = (
    1000, 1001, 1002, 1003, 1004, 1011, 1014, 1020, 1022,
)  # fmt: skip
_INT32, _STRING, _I18NSTRING = 4, 6, 9


def read(files: Mapping[str, bytes], distro: Distro) -> list[Package]:
    found: list[Package] = []
    for path in DATABASES:
        data = files.get(path)
        if data is None:
            continue
        for blob in _header_blobs(data):
            tags = parse_header(blob)
            package = _package(tags, "/" + path, distro)
            if package is not None:
                found.append(package)
    return found


def _header_blobs(data: bytes) -> list[bytes]:
    """The `Packages` blobs of an sqlite rpmdb given as bytes ([] when it is not one)."""
    fd, name = tempfile.mkstemp(prefix="pybuild-rpmdb-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with contextlib.closing(sqlite3.connect(f"file:{name}?mode=ro", uri=True)) as db:
            return [bytes(row[0]) for row in db.execute("SELECT blob FROM Packages")]
    except sqlite3.Error:
        return []
    finally:
        os.unlink(name)


def parse_header(blob: bytes) -> dict[int, str | int]:
    """Tag -> value of the string and int32 entries of one header ({} when malformed)."""
    if len(blob) < 8:
        return {}
    count, size = struct.unpack_from(">ii", blob, 0)
    start = 8 + 16 * count
    if count < 0 or size < 0 or start + size > len(blob):
        return {}
    store = blob[start : start + size]
    tags: dict[int, str | int] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        if not 0 <= offset < len(store) or n < 1:
            continue
        if kind in (_STRING, _I18NSTRING):
            end = store.find(b"\0", offset)
            tags[tag] = store[offset : end if end >= 0 else len(store)].decode("utf-8", "replace")
        elif kind == _INT32 and offset + 4 <= len(store):
            tags[tag] = struct.unpack_from(">i", store, offset)[0]
    return tags


def _package(tags: dict[int, str | int], location: str, distro: Distro) -> Package | None:
    name, version, release = (str(tags.get(t, "")) for t in (NAME, VERSION, RELEASE))
    if not name or not version or name == "gpg-pubkey":
        return None
    full = f"{version}-{release}" if release else version
    arch = str(tags.get(ARCH, ""))
    epoch = str(tags[EPOCH]) if EPOCH in tags else ""
    return Package(
        type="rpm",
        name=name,
        version=f"{epoch}:{full}" if epoch else full,
        purl=purl(
            "rpm", distro.id or None, name, full, arch=arch, epoch=epoch, distro=distro.qualifier
        ),
        location=location,
        licenses=(str(tags[LICENSE]),) if tags.get(LICENSE) else (),
        arch=arch,
        supplier=str(tags.get(VENDOR, "")),
        homepage=str(tags.get(URL, "")),
        description=str(tags.get(SUMMARY, "")),
    )
