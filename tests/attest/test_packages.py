"""The package database readers, on small hand-made root filesystems."""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

from builder.attest.packages import find_packages
from builder.attest.rootfs import from_directory

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
ALPINE_OS_RELEASE = 'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


DPKG_STATUS = """\
Package: openssh-server
Status: install ok installed
Priority: optional
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u3
Maintainer: Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>
Description: secure shell (SSH) server, for secure access from remote machines
 This is the portable version of OpenSSH.
Homepage: https://www.openssh.com/

Package: removed-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Maintainer: Santiago Vila <sanvila@debian.org>
Description: Debian base system miscellaneous files
"""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: OpenSSH

Files: *
Copyright: Tatu Ylonen
License: OpenSSH
 Free text.

Files: debian/*
License: BSD-2-clause

License: BSD-2-clause
 Redistribution and use ...
"""


def test_dpkg_status(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "etc/os-release": DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": DPKG_STATUS,
            "usr/share/doc/openssh-server/copyright": COPYRIGHT,
            "usr/share/doc/base-files/copyright": "This is free text, not machine-readable.\n",
        },
    )
    packages = {p.name: p for p in find_packages(from_directory(root))}
    assert sorted(packages) == ["base-files", "openssh-server"]  # config-files only: not listed
    ssh = packages["openssh-server"]
    assert ssh.type == "deb"
    assert ssh.version == "1:9.2p1-2+deb12u3"
    assert ssh.purl == (
        "pkg:deb/debian/openssh-server@1:9.2p1-2%2Bdeb12u3"
        "?arch=amd64&distro=debian-12&upstream=openssh"
    )
    assert ssh.licenses == ("OpenSSH", "BSD-2-clause")
    assert ssh.location == "/var/lib/dpkg/status"
    assert ssh.description.startswith("secure shell (SSH) server")
    assert ssh.supplier.startswith("Debian OpenSSH Maintainers")
    assert packages["base-files"].licenses == ()


def test_dpkg_status_d_of_distroless(tmp_path: Path) -> None:
    entry = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
    root = make_tree(
        tmp_path,
        {
            "etc/os-release": DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status.d/tzdata": entry,
            "var/lib/dpkg/status.d/tzdata.md5sums": "d41d8cd98f00b204e9800998ecf8427e  usr/x\n",
        },
    )
    (package,) = find_packages(from_directory(root))
    assert (package.name, package.version) == ("tzdata", "2024a-0+deb12u1")
    assert package.location == "/var/lib/dpkg/status.d/tzdata"
    assert package.purl == "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"


def test_apk_installed(tmp_path: Path) -> None:
    db = (
        "C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407k\nT:the musl c library\n"
        "U:https://musl.libc.org/\nL:MIT\no:musl\nm:Natanael Copa <ncopa@alpinelinux.org>\n"
        "F:lib\nR:libc.musl-x86_64.so.1\n\n"
        "P:busybox-binsh\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\n"
    )
    root = make_tree(tmp_path, {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": db})
    packages = {p.name: p for p in find_packages(from_directory(root))}
    assert packages["musl"].purl == (
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    )
    assert packages["musl"].licenses == ("MIT",)
    assert packages["busybox-binsh"].purl == (
        "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox"
    )


def rpm_header(tags: list[tuple[int, int, bytes]]) -> bytes:
    """An rpm header blob as rpmdb.sqlite stores it: counts, index entries, data."""
    index, data = b"", b""
    for tag, kind, value in tags:
        if kind == 4:  # int32s are aligned
            data += b"\0" * (-len(data) % 4)
        index += struct.pack(">iiii", tag, kind, len(data), 1)
        data += value
    return struct.pack(">ii", len(tags), len(data)) + index + data


def test_rpm_sqlite(tmp_path: Path) -> None:
    db_path = tmp_path / "var/lib/rpm/rpmdb.sqlite"
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as db:
        db.execute(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)"
        )
        bash = rpm_header(
            [
                (1000, 6, b"bash\0"),
                (1001, 6, b"5.2.15\0"),
                (1002, 6, b"3.fc39\0"),
                (1003, 4, struct.pack(">i", 1)),
                (1014, 6, b"GPL-3.0-or-later\0"),
                (1022, 6, b"x86_64\0"),
            ]
        )
        key = rpm_header([(1000, 6, b"gpg-pubkey\0"), (1001, 6, b"18b8e74c\0")])
        db.executemany("INSERT INTO Packages (blob) VALUES (?)", [(bash,), (key,), (b"\x00\x01",)])
    db.close()
    make_tree(tmp_path, {"etc/os-release": "ID=fedora\nVERSION_ID=39\n"})
    (package,) = find_packages(from_directory(tmp_path))
    assert (package.name, package.version) == ("bash", "1:5.2.15-3.fc39")
    assert package.purl == "pkg:rpm/fedora/bash@5.2.15-3.fc39?arch=x86_64&distro=fedora-39&epoch=1"
    assert package.licenses == ("GPL-3.0-or-later",)


def test_python_dist_info_and_egg_info(tmp_path: Path) -> None:
    site = "usr/local/lib/python3.11/site-packages"
    root = make_tree(
        tmp_path,
        {
            f"{site}/Flask_Login-0.6.3.dist-info/METADATA": (
                "Metadata-Version: 2.1\nName: Flask-Login\nVersion: 0.6.3\nLicense: MIT\n"
                "Summary: User session management for Flask\n\nLong description.\n"
            ),
            f"{site}/attrs-23.2.0.dist-info/METADATA": (
                "Metadata-Version: 2.4\nName: attrs\nVersion: 23.2.0\nLicense-Expression: MIT\n"
            ),
            f"{site}/six-1.16.0.dist-info/METADATA": (
                "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n"
                "Classifier: License :: OSI Approved :: MIT License\n"
            ),
            "usr/lib/python3/dist-packages/chardet-5.1.0.egg-info": (
                "Metadata-Version: 1.1\nName: chardet\nVersion: 5.1.0\nLicense: LGPL\n"
            ),
            "opt/venv/lib/python3.12/site-packages/old-1.0.egg-info/PKG-INFO": (
                "Metadata-Version: 1.0\nName: old\nVersion: 1.0\nLicense: UNKNOWN\n"
            ),
        },
    )
    packages = {p.name: p for p in find_packages(from_directory(root))}
    assert sorted(packages) == ["Flask-Login", "attrs", "chardet", "old", "six"]
    assert packages["Flask-Login"].purl == "pkg:pypi/flask-login@0.6.3"
    assert packages["Flask-Login"].licenses == ("MIT",)
    assert packages["attrs"].licenses == ("MIT",)
    assert packages["six"].licenses == ("MIT License",)
    assert packages["chardet"].location == "/usr/lib/python3/dist-packages/chardet-5.1.0.egg-info"
    assert packages["old"].licenses == ()
    assert all(p.type == "pypi" for p in packages.values())


def test_npm_node_modules(tmp_path: Path) -> None:
    def pkg(**fields: object) -> str:
        return json.dumps(fields)

    root = make_tree(
        tmp_path,
        {
            "app/node_modules/express/package.json": pkg(
                name="express", version="4.19.2", license="MIT", author="TJ Holowaychuk"
            ),
            "app/node_modules/@babel/core/package.json": pkg(
                name="@babel/core", version="7.24.0", license={"type": "MIT"}
            ),
            "app/node_modules/express/node_modules/debug/package.json": pkg(
                name="debug", version="2.6.9", licenses=[{"type": "MIT"}]
            ),
            "app/package.json": pkg(name="my-app", version="1.0.0"),  # the app: not a dependency
            "app/node_modules/broken/package.json": "{not json",
        },
    )
    packages = {p.purl: p for p in find_packages(from_directory(root))}
    assert sorted(packages) == [
        "pkg:npm/%40babel/core@7.24.0",
        "pkg:npm/debug@2.6.9",
        "pkg:npm/express@4.19.2",
    ]
    assert all(p.licenses == ("MIT",) for p in packages.values())
    assert packages["pkg:npm/express@4.19.2"].supplier == "TJ Holowaychuk"
