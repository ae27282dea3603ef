"""pull and push between Stores and the real docker-registry; skopeo reads the result."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from builder.errors import ImageError, UsageError
from builder.image import mediatypes
from builder.image.digest import DigestMismatchError
from builder.image.model import Descriptor, Index
from builder.image.platform import Platform, host_platform
from builder.registry.client import RegistryClient
from builder.registry.credentials import store_credentials
from builder.registry.errors import RegistryAuthError, RegistryNotFoundError
from builder.registry.progress import ProgressEvent
from builder.registry.pull import pull
from builder.registry.push import push
from builder.store import ImageRecord, Store
from tests.registry.conftest import FAST_RETRY, PASSWORD, USER
from tests.registry.images import add_image, write_oci_layout
from tests.registry_server import Fault, FaultProxy, RegistryServer

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


@pytest.fixture
def empty_store(tmp_path: Path) -> Store:
    """A second, empty store: where images are pulled back to."""
    return Store.open(tmp_path / "store2")


def client_for(host: str, **kwargs: object) -> RegistryClient:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("credentials", None)
    return RegistryClient(host, **kwargs)


class Events(list[ProgressEvent]):
    """A progress callback that keeps every event."""

    def __call__(self, event: ProgressEvent) -> None:
        self.append(event)

    def final(self, kind: str) -> list[str]:
        """The last state of each blob of `kind`, in first-seen order."""
        last: dict[str, str] = {}
        for event in self:
            if event.kind == kind:
                last[event.digest] = event.state
        return list(last.values())


def small_image(
    store: Store, name: str, platform: Platform | None = None, seed: bytes = b""
) -> ImageRecord:
    return add_image(
        store,
        [
            {"etc/os-release": b"ID=test\n" + seed, "etc/motd": b"hello\n"},
            {"usr/bin/tool": os.urandom(4000) + seed},
        ],
        name=name,
        platform=platform,
    )


def test_push_then_pull_into_an_empty_store(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    record = small_image(store, name)
    pushed = push(store, name, client=client_for(registry.host))
    assert pushed == record.manifest_digest
    assert f"{registry.host}/{repo}@{pushed}" in store.resolve(name).repo_digests

    events = Events()
    pulled = pull(empty_store, name, client=client_for(registry.host), progress=events)
    assert pulled.manifest_digest == record.manifest_digest
    assert pulled.config_digest == record.config_digest
    assert empty_store.manifest(pulled) == store.manifest(record)
    assert empty_store.config_bytes(pulled) == store.config_bytes(record)
    assert pulled.names == (name,)
    assert pulled.repo_digests == (f"{registry.host}/{repo}@{pushed}",)
    assert events.final("layer") == ["done", "done"]
    assert events.final("config") == ["done"]
    layer = store.manifest(record).layers[1]
    states = [e.state for e in events if e.digest == layer.digest]
    assert states[0] == "waiting" and states[-2:] == ["verifying", "done"]
    assert {e.done for e in events if e.digest == layer.digest and e.state == "downloading"} >= {
        0,
        layer.size,
    }


def test_pull_by_digest_names_nothing(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    small_image(store, name)
    digest = push(store, name, client=client_for(registry.host))
    pulled = pull(empty_store, f"{registry.host}/{repo}@{digest}", client=client_for(registry.host))
    assert pulled.manifest_digest == digest
    assert pulled.names == ()
    assert pulled.repo_digests == (f"{registry.host}/{repo}@{digest}",)
    # a second pull finds every blob in the store
    events = Events()
    pull(empty_store, name, client=client_for(registry.host), progress=events)
    assert events.final("layer") == ["exists", "exists"] and events.final("config") == ["exists"]
    assert empty_store.resolve(name).manifest_digest == digest


def test_push_twice_uploads_nothing(registry: RegistryServer, store: Store, repo: str) -> None:
    name = f"{registry.host}/{repo}:v1"
    small_image(store, name)
    push(store, name, client=client_for(registry.host))
    with FaultProxy(registry) as proxy:
        events = Events()
        push(store, name, f"{proxy.host}/{repo}:v1", client=client_for(proxy.host), progress=events)
        assert events.final("layer") == ["exists", "exists"]
        assert events.final("config") == ["exists"]
        assert not [e for e in proxy.log if e.method in ("POST", "PATCH")]


def test_cross_repo_mount(registry: RegistryServer, store: Store, repo: str) -> None:
    name = f"{registry.host}/{repo}-a:v1"
    small_image(store, name)
    push(store, name, client=client_for(registry.host))
    events = Events()
    digest = push(
        store,
        name,
        f"{registry.host}/{repo}-b:v1",
        client=client_for(registry.host),
        progress=events,
    )
    assert events.final("layer") == ["mounted", "mounted"]
    assert events.final("config") == ["mounted"]
    assert client_for(registry.host).get_manifest(f"{repo}-b", "v1")[2] == digest


def test_chunked_push_and_pull(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    record = add_image(store, [{"big.bin": os.urandom(20_000)}], name=name)
    with FaultProxy(registry) as proxy:
        push(store, name, f"{proxy.host}/{repo}:v1", client=client_for(proxy.host, chunk_size=4096))
        assert len([e for e in proxy.log if e.method == "PATCH"]) == 5
    pulled = pull(empty_store, name, client=client_for(registry.host))
    layer = store.manifest(record).layers[0]
    assert empty_store.read_blob(layer.digest) == store.read_blob(layer.digest)
    assert pulled.manifest_digest == record.manifest_digest


def test_corrupted_layer_stores_nothing(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    record = small_image(store, name)
    push(store, name, client=client_for(registry.host))
    layer = store.manifest(record).layers[1]
    with (
        FaultProxy(registry, [Fault("GET", f"/blobs/{layer.digest}", "corrupt")]) as proxy,
        pytest.raises(DigestMismatchError) as info,
    ):
        pull(empty_store, f"{proxy.host}/{repo}:v1", client=client_for(proxy.host))
    assert info.value.expected == layer.digest
    assert not empty_store.has_blob(layer.digest)
    assert not empty_store.has_blob(record.manifest_digest)
    assert empty_store.images() == []


def test_pull_survives_5xx_and_a_broken_download(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    record = small_image(store, name)
    push(store, name, client=client_for(registry.host))
    layer = store.manifest(record).layers[1]
    faults = [
        Fault("GET", "/manifests/v1", "status", status=503, times=2),
        Fault("GET", f"/blobs/{layer.digest}", "truncate", keep=1000),
    ]
    with FaultProxy(registry, faults) as proxy:
        pulled = pull(empty_store, f"{proxy.host}/{repo}:v1", client=client_for(proxy.host))
    assert pulled.manifest_digest == record.manifest_digest
    assert all(f.hits == f.times for f in faults)


def test_missing_tag_is_one_line(registry: RegistryServer, empty_store: Store, repo: str) -> None:
    with pytest.raises(RegistryNotFoundError) as info:
        pull(empty_store, f"{registry.host}/{repo}:nope", client=client_for(registry.host))
    assert (
        str(info.value)
        == f"registry {registry.host}: 404 MANIFEST_UNKNOWN: manifest unknown (manifest {repo}:nope)"
    )
    assert empty_store.images() == []


def test_multi_platform_index(
    registry: RegistryServer, store: Store, tmp_path: Path, repo: str
) -> None:
    client = client_for(registry.host)
    entries = []
    records = {}
    for platform in (AMD64, ARM64):
        tag = f"{registry.host}/{repo}:{platform.architecture}"
        record = small_image(store, tag, platform=platform, seed=platform.architecture.encode())
        digest = push(store, tag, client=client)
        records[platform] = record
        entries.append(
            Descriptor(mediatypes.OCI_MANIFEST, digest, store.blob_size(digest), platform=platform)
        )
    attestation = Descriptor(
        mediatypes.OCI_MANIFEST,
        entries[0].digest,
        entries[0].size,
        platform=Platform("unknown", "unknown"),
    )
    index = Index((*entries, attestation)).to_bytes()
    index_digest = client.put_manifest(repo, "multi", index, mediatypes.OCI_INDEX)

    for platform in (ARM64, AMD64):
        target = Store.open(tmp_path / f"pulled-{platform.architecture}")
        pulled = pull(target, f"{registry.host}/{repo}:multi", platform=platform, client=client)
        assert pulled.manifest_digest == records[platform].manifest_digest
        assert pulled.repo_digests == (f"{registry.host}/{repo}@{index_digest}",)
        assert target.read_blob(index_digest) == index
        assert target.config(pulled).architecture == platform.architecture

    host = Store.open(tmp_path / "pulled-host")
    pulled = pull(host, f"{registry.host}/{repo}:multi", client=client)
    assert host.config(pulled).architecture == host_platform().architecture

    nowhere = Store.open(tmp_path / "pulled-none")
    with pytest.raises(ImageError) as info:
        pull(
            nowhere,
            f"{registry.host}/{repo}:multi",
            platform=Platform("linux", "s390x"),
            client=client,
        )
    assert "no image for platform linux/s390x" in str(info.value)
    assert "(it has linux/amd64, linux/arm64)" in str(info.value)
    assert nowhere.images() == []


def test_single_platform_mismatch_is_refused(
    registry: RegistryServer, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{registry.host}/{repo}:v1"
    small_image(store, name, platform=AMD64)
    push(store, name, client=client_for(registry.host))
    with pytest.raises(ImageError, match="the image is for linux/amd64, not linux/arm64"):
        pull(empty_store, name, platform=ARM64, client=client_for(registry.host))
    assert empty_store.images() == []


def test_push_needs_a_name(registry: RegistryServer, store: Store) -> None:
    record = add_image(store, [{"a": b"a"}])
    with pytest.raises(UsageError, match="say where to push it"):
        push(store, record.id, client=client_for(registry.host))
    with pytest.raises(UsageError, match="cannot push to a digest"):
        push(
            store,
            record.id,
            f"{registry.host}/x@{record.manifest_digest}",
            client=client_for(registry.host),
        )


def test_push_and_pull_with_basic_auth(
    auth_registry: RegistryServer, docker_config: Path, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{auth_registry.host}/{repo}:v1"
    record = small_image(store, name)
    with pytest.raises(RegistryAuthError, match="401 UNAUTHORIZED"):
        push(store, name, client=RegistryClient(auth_registry.host, retry=FAST_RETRY))
    store_credentials(auth_registry.host, USER, PASSWORD)
    push(store, name, client=RegistryClient(auth_registry.host, retry=FAST_RETRY))
    assert (
        pull(empty_store, name).manifest_digest == record.manifest_digest
    )  # its own client, docker config


def test_push_and_pull_with_token_auth(
    token_registry: RegistryServer, docker_config: Path, store: Store, empty_store: Store, repo: str
) -> None:
    name = f"{token_registry.host}/{repo}:v1"
    record = small_image(store, name)
    store_credentials(token_registry.host, USER, PASSWORD)
    push(store, name)
    # anonymous pull is allowed by the token server
    assert (
        pull(empty_store, name, client=client_for(token_registry.host)).manifest_digest
        == record.manifest_digest
    )


# -- third-party readers ---------------------------------------------------------------------


def skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True).stdout


def rootfs_layer(busybox_rootfs_tar: Path) -> bytes:
    """The busybox root filesystem tarball (fixtures/base-images/busybox.sh)."""
    return busybox_rootfs_tar.read_bytes()


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_skopeo_reads_what_pybuild_pushed(
    registry: RegistryServer,
    store: Store,
    tmp_path: Path,
    repo: str,
    docker: bool,
    busybox_rootfs_tar: Path,
) -> None:
    name = f"{registry.host}/{repo}:v1"
    record = add_image(
        store,
        [rootfs_layer(busybox_rootfs_tar), {"app/run": b"echo hi\n"}],
        name=name,
        docker=docker,
    )
    expected_type = mediatypes.DOCKER_MANIFEST if docker else mediatypes.OCI_MANIFEST
    assert record.media_type == expected_type
    digest = push(store, name, client=client_for(registry.host))
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{name}"))
    manifest = store.manifest(record)
    assert info["Digest"] == digest
    assert info["Layers"] == [d.digest for d in manifest.layers]
    assert info["Architecture"] == host_platform().architecture
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}")
    assert raw.encode() == store.read_blob(digest)
    assert json.loads(raw)["mediaType"] == expected_type
    layout = tmp_path / "oci"
    skopeo("copy", "--src-tls-verify=false", f"docker://{name}", f"oci:{layout}:v1")
    index = json.loads((layout / "index.json").read_text())
    if not docker:  # skopeo converts a Docker manifest to OCI for a layout: a new digest
        assert index["manifests"][0]["digest"] == digest
    for layer in manifest.layers:
        assert (
            layout / "blobs/sha256" / layer.digest.split(":")[1]
        ).read_bytes() == store.read_blob(layer.digest)


def test_pybuild_pulls_what_skopeo_pushed(
    registry: RegistryServer, store: Store, empty_store: Store, tmp_path: Path, repo: str
) -> None:
    record = small_image(store, "local/only:v1")
    write_oci_layout(store, record, tmp_path / "layout", "v1")
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        f"oci:{tmp_path / 'layout'}:v1",
        f"docker://{registry.host}/{repo}:sk",
    )
    pulled = pull(empty_store, f"{registry.host}/{repo}:sk", client=client_for(registry.host))
    assert [d.digest for d in empty_store.manifest(pulled).layers] == [
        d.digest for d in store.manifest(record).layers
    ]
    assert pulled.config_digest == record.config_digest
