"""SBOMs of real Debian images: the sshd fixture (pushed with its attestations, the issue's
"done when") and a Python image whose packages pip installed."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.api import BuildRequest, build
from builder.attest.generate import stored_attestations
from builder.export.rootfs_import import import_rootfs
from builder.store import Store
from tests.conftest import FIXTURES, REPO, require_tool
from tests.registry_server import RegistryServer, start_registry
from tests.solve.building import write_context
from tests.solve.test_sshd import debian_rootfs_tar  # noqa: F401  (a fixture)


@pytest.fixture
def debian_store(tmp_path: Path, debian_rootfs_tar: Path) -> Store:  # noqa: F811
    store = Store.open(tmp_path / "store")
    import_rootfs(store, debian_rootfs_tar, "debian:bookworm-slim")
    return store


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with start_registry(tmp_path / "registry") as server:
        yield server


def pybuild(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYBUILD_ROOT": str(store.root), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "builder.cli.main", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )  # fmt: skip


def skopeo_raw(ref: str) -> dict[str, object]:
    out = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def spdx_packages(store: Store, name: str) -> dict[str, dict[str, object]]:
    record = store.resolve(name)
    (sbom,) = [a for a in stored_attestations(store, record) if "spdx" in a.predicate_type]
    predicate = sbom.document()["predicate"]
    assert isinstance(predicate, dict)
    return {p["name"]: p for p in predicate["packages"]}


def test_sshd_pushed_with_sbom_and_provenance(
    debian_store: Store, registry: RegistryServer
) -> None:
    require_tool("skopeo")
    ref = f"{registry.host}/sshd:latest"
    built = pybuild(
        debian_store, "build", "-q", "--sbom=true", "--provenance=mode=max", "--push",
        "-t", ref, str(FIXTURES / "sshd"),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    record = debian_store.resolve(ref)
    base = debian_store.resolve("debian:bookworm-slim")

    # the registry holds an index: the amd64 image, then its attestation manifest
    index = skopeo_raw(ref)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    image, attestation = index["manifests"]  # type: ignore[misc]
    assert image["digest"] == record.manifest_digest
    assert image["platform"] == {"architecture": "amd64", "os": "linux"}
    assert attestation["platform"] == {"architecture": "unknown", "os": "unknown"}
    assert attestation["annotations"] == {
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": record.manifest_digest,
    }
    held = skopeo_raw(f"{registry.host}/sshd@{attestation['digest']}")
    kinds = [layer["annotations"]["in-toto.io/predicate-type"] for layer in held["layers"]]  # type: ignore[attr-defined]
    assert kinds == ["https://spdx.dev/Document", "https://slsa.dev/provenance/v0.2"]
    # skopeo still copies the image out of the index
    out = debian_store.root.parent / "copied"
    subprocess.run(
        ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:sshd"],
        check=True, capture_output=True,
    )  # fmt: skip

    # the SBOM's openssh-server is exactly what dpkg-query reports inside the image
    ran = pybuild(debian_store, "run", "--rm", ref, "dpkg-query", "-W", "openssh-server")
    assert ran.returncode == 0, ran.stderr
    name, version = ran.stdout.split()
    ssh = spdx_packages(debian_store, ref)[name]
    assert ssh["versionInfo"] == version
    purl = ssh["externalRefs"][0]["referenceLocator"]  # type: ignore[index]
    assert purl.startswith("pkg:deb/debian/openssh-server@")
    assert "arch=amd64" in purl and "distro=debian-12" in purl

    # the provenance names the base image's digest and, in max mode, the Dockerfile
    (provenance,) = [
        a.document()
        for a in stored_attestations(debian_store, record)
        if "slsa" in a.predicate_type
    ]
    predicate = provenance["predicate"]
    assert isinstance(predicate, dict)
    assert {"uri": "pkg:docker/debian@bookworm-slim?platform=linux/amd64",
            "digest": {"sha256": base.manifest_digest.split(":", 1)[1]}} in predicate["materials"]  # fmt: skip
    source = predicate["metadata"]["https://mobyproject.org/buildkit@v1#metadata"]["source"]
    dockerfile = (FIXTURES / "sshd" / "Dockerfile").read_bytes()
    assert base64.b64decode(source["infos"][0]["data"]) == dockerfile
    assert predicate["invocation"]["configSource"] == {"entryPoint": "Dockerfile"}


def wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal pure-Python wheel, made by hand (no network, no build backend)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n"
            "License: Apache-2.0\nSummary: a test package\n"
        ).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
    return path


def test_pip_installed_packages_are_listed(tmp_path: Path, debian_store: Store) -> None:
    context = write_context(
        tmp_path / "ctx",
        """
        FROM debian:bookworm-slim
        RUN apt-get update \\
         && apt-get install -y --no-install-recommends python3-pip \\
         && rm -rf /var/lib/apt/lists/*
        COPY *.whl /tmp/
        RUN pip install --no-index --break-system-packages /tmp/demo_pkg-0.1.0-py3-none-any.whl
        """,
    )
    wheel(context, "demo_pkg", "0.1.0")
    result = build(
        BuildRequest(context=context, tags=["py"], sbom="true", environ={}), store=debian_store
    )
    assert result.record.attestations is not None
    packages = spdx_packages(debian_store, "py")
    demo = packages["demo-pkg"]
    assert demo["versionInfo"] == "0.1.0"
    assert demo["externalRefs"][0]["referenceLocator"] == "pkg:pypi/demo-pkg@0.1.0"  # type: ignore[index]
    assert demo["licenseDeclared"] == "Apache-2.0"
    assert str(demo["sourceInfo"]).startswith("acquired package info from /usr/local/lib/python3")
    pip = packages["pip"]  # Debian's python3-pip ships pip's dist-info too
    assert str(pip["externalRefs"][0]["referenceLocator"]).startswith("pkg:pypi/pip@")  # type: ignore[index]
    assert "python3-pip" in packages  # and the deb that installed it
