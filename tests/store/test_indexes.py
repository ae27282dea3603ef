"""Multi-platform images in the store: one name, an index, one image record per platform."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.image.platform import Platform
from builder.store import PlatformMismatchError, Store
from tests.store.images import make_layer, store_image


def _two_platforms(store: Store) -> None:
    amd = store_image(store, [make_layer({"a": b"amd64"})])
    arm = store_image(store, [make_layer({"a": b"arm64"})], architecture="arm64")
    assert store.add_platform("app:1", amd.manifest_digest) is None  # one platform: a plain name
    index = store.add_platform("app:1", arm.manifest_digest)
    assert index is not None
    assert [p for p, _ in index.platforms] == ["linux/amd64", "linux/arm64"]


def test_one_name_finds_each_platform(store: Store) -> None:
    _two_platforms(store)
    amd = store.find_for_platform("app:1", Platform("linux", "amd64"))
    arm = store.find_for_platform("app:1", Platform("linux", "arm64", "v8"))  # arm64 == arm64/v8
    assert amd is not None and arm is not None and amd.id != arm.id
    assert store.config(arm).architecture == "arm64"
    with pytest.raises(PlatformMismatchError) as info:
        store.find_for_platform("app:1", Platform("linux", "arm", "v7"))
    assert info.value.offered == ["linux/amd64", "linux/arm64"]
    assert "it offers linux/amd64, linux/arm64" in info.value.message
    assert store.find_for_platform("missing:1", Platform("linux", "amd64")) is None
    # what takes one image (run, history, save) gets the host's platform
    found = store.find("app:1")
    assert found is not None and found.id == amd.id


def test_adding_the_same_platform_again_replaces_it(store: Store) -> None:
    _two_platforms(store)
    newer = store_image(store, [make_layer({"a": b"arm64 v2"})], architecture="arm64")
    index = store.add_platform("app:1", newer.manifest_digest)
    assert index is not None
    assert dict(index.platforms)["linux/arm64"] == newer.manifest_digest
    assert len(index.platforms) == 2


def test_prune_keeps_what_a_named_index_references(store: Store) -> None:
    _two_platforms(store)
    report = store.prune()
    assert report.deleted_images == ()
    assert len(store.images()) == 2
    index = store.find_index("app:1")
    assert index is not None and store.has_blob(index.digest)
    assert not [f for f in store.check().findings if f.subject == index.digest]


def test_removing_the_name_leaves_the_platforms_to_prune(store: Store) -> None:
    _two_platforms(store)
    index = store.find_index("app:1")
    assert index is not None
    assert store.remove("app:1") == ["Untagged: app:1", f"Deleted: {index.digest}"]
    assert store.find_index(index.digest) is None
    assert len(store.prune().deleted_images) == 2
    assert not store.has_blob(index.digest)


def test_a_name_moves_between_an_image_and_an_index(store: Store) -> None:
    _two_platforms(store)
    single = store_image(store, [make_layer({"b": b"x"})], names=("app:1",))
    found = store.find("app:1")
    assert found is not None and found.id == single.id
    assert store.find_index("app:1") is None
    index = next(iter(store.indexes()))
    store.tag(index.digest, "app:1")
    assert store.find_index("app:1") is not None
    assert "docker.io/library/app:1" not in (store.find(single.id) or single).names


def test_old_store_index_opens_and_stays_version_1_without_indexes(
    store: Store, tmp_path: Path
) -> None:
    image = store_image(store, [make_layer({"a": b"1"})], names=("old:1",))
    path = store.root / "index.json"
    document = json.loads(path.read_text())
    assert document["version"] == 1  # nothing multi-platform: older pybuilds still read it
    reopened = Store.open(store.root)
    found = reopened.find("old:1")
    assert found is not None and found.id == image.id
    _two_platforms(reopened)
    assert json.loads(path.read_text())["version"] == 2


def test_check_reports_an_index_whose_platform_image_is_gone(store: Store) -> None:
    _two_platforms(store)
    index = store.find_index("app:1")
    assert index is not None
    arm_id = next(r.id for p, r in store.platforms_of("app:1") or [] if p == "linux/arm64")
    path = store.root / "index.json"
    document = json.loads(path.read_text())
    document["images"] = [i for i in document["images"] if i["config"] != arm_id]
    path.write_text(json.dumps(document))
    report = store.check(repair=True)
    assert any("its linux/arm64 image" in f.message for f in report.findings)
    assert store.find_index("app:1") is None


def test_concurrent_platform_imports_keep_both(tmp_path: Path) -> None:
    """Two processes' worth of add_platform on one name, at once: no platform is lost."""
    import threading

    for round_ in range(5):
        store = Store.open(tmp_path / f"store-{round_}")
        amd = store_image(store, [make_layer({"a": b"amd64"})])
        arm = store_image(store, [make_layer({"a": b"arm64"})], architecture="arm64")
        start = threading.Barrier(2)

        def add(digest: str, store: Store = store, start: threading.Barrier = start) -> None:
            start.wait()
            Store.open(store.root).add_platform("app:1", digest)

        threads = [threading.Thread(target=add, args=(r.manifest_digest,)) for r in (amd, arm)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(p for p, _ in store.platforms_of("app:1") or []) == [
            "linux/amd64",
            "linux/arm64",
        ]


def test_the_index_digest_prefix_names_the_multi_platform_image(store: Store) -> None:
    _two_platforms(store)
    index = store.find_index("app:1")
    assert index is not None
    found = store.find_index(index.digest[7:19])
    assert found is not None and found.digest == index.digest


def _with_attestation(store: Store) -> tuple[str, set[str]]:
    """app:1 as an index of two platforms plus an attestation manifest (as BuildKit lays it)."""
    from builder.image import mediatypes
    from builder.image.model import Descriptor, Manifest
    from builder.image.multiplatform import PlatformManifest, assemble_index

    amd = store_image(store, [make_layer({"a": b"amd64"})])
    arm = store_image(store, [make_layer({"a": b"arm64"})], architecture="arm64")
    statement = b'{"_type": "https://in-toto.io/Statement/v0.1"}'
    config = b"{}"
    attestation = Manifest(
        config=Descriptor(mediatypes.OCI_EMPTY, store.put_blob(config), len(config)),
        layers=(
            Descriptor("application/vnd.in-toto+json", store.put_blob(statement), len(statement)),
        ),
    )
    data = attestation.to_bytes()
    extra = Descriptor(
        mediatypes.OCI_MANIFEST,
        store.put_blob(data),
        len(data),
        platform=Platform("unknown", "unknown"),
    )
    manifests = [
        PlatformManifest(
            Platform("linux", "amd64"), amd.manifest_digest, store.blob_size(amd.manifest_digest)
        ),
        PlatformManifest(
            Platform("linux", "arm64"), arm.manifest_digest, store.blob_size(arm.manifest_digest)
        ),
    ]
    index = assemble_index(manifests, extra=[extra])
    digest = store.put_blob(index.to_bytes())
    record = store.add_index(digest, names=["app:1"])
    assert [p for p, _ in record.platforms] == ["linux/amd64", "linux/arm64"]
    return digest, {extra.digest, attestation.config.digest, attestation.layers[0].digest}


def test_prune_and_oci_export_keep_an_index_s_other_manifests(store: Store, tmp_path: Path) -> None:
    import tarfile

    from builder.export.oci_layout import save_oci
    from builder.export.selection import select_images

    digest, extras = _with_attestation(store)
    store.prune()
    assert all(store.has_blob(d) for d in extras | {digest})
    archive = tmp_path / "app.tar"
    save_oci(store, select_images(store, ["app:1"]), archive, tar=True)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {f"blobs/sha256/{d.split(':')[1]}" for d in extras | {digest}} <= names
