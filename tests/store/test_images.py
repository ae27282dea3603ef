"""Image records: add, names, lookup (name, ID, prefix, name@digest), tag, rmi."""

from __future__ import annotations

import json

import pytest

from builder.errors import ImageConflictError, ImageError, ImageNotFoundError, StoreError
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.model import Descriptor, Manifest
from builder.store import Store
from builder.store.records import ImageUser

from .images import make_layer, store_image, unique_image

DEBIAN = "docker.io/library/debian:bookworm"


def test_add_image_record(store: Store) -> None:
    layers = [make_layer({"a": b"1"}), make_layer({"b": b"22"})]
    record = store_image(store, layers, names=("debian:bookworm",), docker=True)
    assert record.names == (DEBIAN,)
    assert record.media_type == mediatypes.DOCKER_MANIFEST
    assert record.created == "2024-01-01T00:00:00Z"
    config_size = len(store.config_bytes(record))
    assert record.size == config_size + sum(len(x.blob) for x in layers)
    assert record.id == record.config_digest
    assert record.short_id == record.config_digest[7:19]
    assert store.manifest(record).layers[1].size == len(layers[1].blob)
    assert store.config(record).diff_ids == [x.diff_id for x in layers]
    assert store.images() == [record]


def test_add_requires_blobs(store: Store) -> None:
    with pytest.raises(StoreError, match=r"manifest is not in the store"):
        store.add_image(sha256_digest(b"nothing"))
    layer = make_layer({"a": b"1"})
    config = store.put_blob(
        b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}'
        % layer.diff_id.encode()
    )
    manifest = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, config, store.blob_size(config)),
        layers=(Descriptor(mediatypes.OCI_LAYER_GZIP, sha256_digest(layer.blob), len(layer.blob)),),
    )
    digest = store.put_blob(manifest.to_bytes())
    with pytest.raises(StoreError, match=r"layer 0 sha256:.* is not in the store"):
        store.add_image(digest)
    store.put_blob(layer.blob)
    assert store.add_image(digest).manifest_digest == digest


def test_add_rejects_wrong_sizes_and_layer_counts(store: Store) -> None:
    layer = make_layer({"a": b"1"})
    config = store.put_blob(
        b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    )
    layer_digest = store.put_blob(layer.blob)
    lying = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, config, store.blob_size(config)),
        layers=(Descriptor(mediatypes.OCI_LAYER_GZIP, layer_digest, len(layer.blob) + 1),),
    )
    with pytest.raises(ImageError, match=r"the manifest says"):
        store.add_image(store.put_blob(lying.to_bytes()))
    uneven = Manifest(
        config=lying.config,
        layers=(Descriptor(mediatypes.OCI_LAYER_GZIP, layer_digest, len(layer.blob)),),
    )
    with pytest.raises(ImageError, match=r"1 layers but the config lists 0 diff_ids"):
        store.add_image(store.put_blob(uneven.to_bytes()))
    index_doc = (
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    )
    with pytest.raises(ImageError):
        store.add_image(store.put_blob(index_doc))
    assert store.images() == []


def test_add_invalid_name(store: Store) -> None:
    with pytest.raises(ImageError, match=r"lowercase"):
        unique_image(store, "x", names=("Debian",))
    with pytest.raises(ImageError, match=r"cannot contain a digest"):
        unique_image(store, "x", names=("debian@sha256:" + "0" * 64,))


def test_name_moves_to_new_image(store: Store) -> None:
    old = unique_image(store, "old", names=("app:1", "app:stable"))
    new = unique_image(store, "new", names=("app:1",))
    assert store.resolve("app:1").id == new.id
    assert store.resolve(old.id).names == ("docker.io/library/app:stable",)
    assert store.images()[0].id == new.id  # newest first


def test_readd_merges_names_and_keeps_added(store: Store) -> None:
    first = unique_image(store, "same", names=("a",))
    again = unique_image(store, "same", names=("b",))
    assert again.id == first.id
    assert again.names == ("docker.io/library/a:latest", "docker.io/library/b:latest")
    assert again.added == first.added
    assert len(store.images()) == 1


def test_find_forms(store: Store) -> None:
    repo_digest = "debian@sha256:" + "ab" * 32
    record = store_image(
        store, [make_layer({"f": b"1"})], names=("debian:bookworm",), repo_digest=repo_digest
    )
    assert record.repo_digests == ("docker.io/library/debian@sha256:" + "ab" * 32,)
    hex_id = record.id[7:]
    for text in (
        "debian:bookworm",
        "docker.io/library/debian:bookworm",
        "index.docker.io/library/debian:bookworm",
        "library/debian:bookworm",
        record.id,
        hex_id,
        hex_id[:12],
        hex_id[:4],
        "sha256:" + hex_id[:6],
        record.manifest_digest,
        repo_digest,
        "docker.io/library/debian@sha256:" + "ab" * 32,
        "debian:bookworm@sha256:" + "ab" * 32,
        "debian@" + record.manifest_digest,
    ):
        assert store.find(text) == record, text
    for text in (
        "debian",
        "debian:latest",
        "ubuntu:bookworm",
        "sha256:" + "0" * 64,
        "0" * 64,
        "debian@sha256:" + "cd" * 32,
        "other@" + record.manifest_digest,
        "ffff",
    ):
        assert store.find(text) is None, text


def test_find_name_before_id_prefix(store: Store) -> None:
    a = unique_image(store, "a")
    named = unique_image(store, "b", names=(a.id[7:11],))
    assert store.find(a.id[7:11]) == named  # a name wins, as in docker
    assert store.find(a.id[7:12]) == a


def test_id_prefix_needs_four_digits(store: Store) -> None:
    record = unique_image(store, "a")
    assert store.find(record.id[7:10]) is None
    with pytest.raises(ImageError, match=r"invalid image ID"):
        store.find("sha256:" + record.id[7:10])
    assert store.find(record.id[7:11]) == record


def test_find_ambiguous_prefix_exact(store: Store) -> None:
    # two index entries with a common 6-char ID prefix, written as the index stores them
    a = unique_image(store, "a", names=("a:1",))
    data = json.loads((store.root / "index.json").read_bytes())
    twin = dict(data["images"][0])
    twin["config"] = "sha256:" + a.id[7:13] + "0" * 58
    twin["names"] = []
    data["images"].append(twin)
    (store.root / "index.json").write_text(json.dumps(data))
    with pytest.raises(
        ImageError, match=f'ambiguous image ID prefix "{a.id[7:13]}": it matches 2 images'
    ):
        store.find(a.id[7:13])
    with pytest.raises(ImageError, match=r"ambiguous"):
        store.resolve("sha256:" + a.id[7:11])
    assert store.find(a.id[7:14]) == a


@pytest.mark.parametrize(
    "text", ["sha256:../../etc", "sha256:ABCD", "Debian", "a b", "", "sha256:"]
)
def test_find_invalid(store: Store, text: str) -> None:
    with pytest.raises(ImageError):
        store.find(text)


def test_resolve_not_found_message(store: Store) -> None:
    with pytest.raises(ImageNotFoundError) as err:
        store.resolve("x:1")
    assert str(err.value) == (
        'image "x:1" not found locally; pull it with `pybuild pull x:1` '
        "or build it with `pybuild build -t x:1 .`"
    )


def test_tag(store: Store) -> None:
    a = unique_image(store, "a", names=("a:1",))
    b = unique_image(store, "b", names=("b:1",))
    tagged = store.tag("a:1", "localhost:5000/team/app:v2")
    assert tagged.names == ("docker.io/library/a:1", "localhost:5000/team/app:v2")
    assert store.resolve("localhost:5000/team/app:v2").id == a.id
    store.tag(b.id[7:19], "localhost:5000/team/app:v2")  # moves
    assert store.resolve("localhost:5000/team/app:v2").id == b.id
    assert store.resolve("a:1").names == ("docker.io/library/a:1",)
    assert store.tag("a:1", "a:1").names == ("docker.io/library/a:1",)  # no-op
    with pytest.raises(ImageNotFoundError):
        store.tag("nope", "x")
    with pytest.raises(ImageError, match=r"cannot contain a digest"):
        store.tag("a:1", "x@sha256:" + "0" * 64)
    with pytest.raises(ImageError, match=r"lowercase"):
        store.tag("a:1", "X")


def test_remove_by_name_untags_until_last(store: Store) -> None:
    record = store_image(
        store,
        [make_layer({"f": b"1"})],
        names=("debian:bookworm", "debian:12"),
        repo_digest="debian@sha256:" + "ab" * 32,
    )
    assert store.remove("debian:12") == ["Untagged: debian:12"]
    assert store.resolve(record.id).names == (DEBIAN,)
    assert store.remove("debian:bookworm") == [
        "Untagged: debian:bookworm",
        "Untagged: debian@sha256:" + "ab" * 32,
        f"Deleted: {record.id}",
    ]
    assert store.images() == []
    assert store.has_blob(record.manifest_digest)  # blobs go with prune
    with pytest.raises(ImageNotFoundError):
        store.remove("debian:bookworm")


def test_remove_by_id(store: Store) -> None:
    record = unique_image(store, "x", names=("app:1", "app:2"))
    assert store.remove(record.short_id) == [
        "Untagged: app:1",
        "Untagged: app:2",
        f"Deleted: {record.id}",
    ]
    dangling = unique_image(store, "dangling")
    assert store.remove(dangling.id) == [f"Deleted: {dangling.id}"]
    assert store.images() == []


def test_remove_by_id_in_several_repositories_needs_force(store: Store) -> None:
    record = unique_image(store, "x", names=("app:1", "other/app:1"))
    with pytest.raises(
        ImageError,
        match=r"unable to delete .* \(must be forced\) - image is referenced in multiple repositories",
    ):
        store.remove(record.id)
    assert store.find(record.id) == record
    assert store.remove(record.id, force=True)[-1] == f"Deleted: {record.id}"


def test_remove_by_repo_digest(store: Store) -> None:
    rd = "debian@sha256:" + "ab" * 32
    record = store_image(store, [make_layer({"f": b"1"})], repo_digest=rd)
    assert store.remove(rd) == [f"Untagged: {rd}", f"Deleted: {record.id}"]
    named = store_image(store, [make_layer({"g": b"1"})], names=("debian:x",), repo_digest=rd)
    assert store.remove(rd) == [f"Untagged: {rd}"]
    assert store.resolve("debian:x").repo_digests == ()
    assert store.find(named.id) is not None


def test_corrupt_index_is_a_store_error(store: Store) -> None:
    (store.root / "index.json").write_text('{"version": 1, "images": [{"config": 1}]}')
    with pytest.raises(StoreError, match=r"index .* is corrupt"):
        store.images()
    (store.root / "index.json").write_text("{trunc")
    with pytest.raises(StoreError, match=r"corrupt"):
        store.find("x")
    entry = {"manifest": "sha256:../../x", "config": "sha256:" + "0" * 64}
    (store.root / "index.json").write_text(json.dumps({"version": 1, "images": [entry]}))
    with pytest.raises(StoreError, match=r"corrupt"):
        store.images()


def test_remove_an_image_a_container_uses(store: Store) -> None:
    record = unique_image(store, "used", names=("app:1",))
    stopped = ImageUser("c" * 64, record.id, running=False)
    with pytest.raises(
        ImageConflictError,
        match=r'^conflict: unable to remove repository reference "app:1" \(must force\) - '
        rf"container cccccccccccc is using its referenced image {record.short_id}$",
    ):
        store.remove("app:1", users=[stopped])
    with pytest.raises(
        ImageConflictError,
        match=rf"^conflict: unable to delete {record.short_id} \(must be forced\) - "
        r"image is being used by stopped container cccccccccccc$",
    ):
        store.remove(record.id, users=[stopped])
    # -f untags; the image stays, dangling, for its container
    assert store.remove("app:1", force=True, users=[stopped]) == ["Untagged: app:1"]
    assert store.resolve(record.id).names == ()
    running = ImageUser("e" * 64, record.id, running=True)
    with pytest.raises(ImageConflictError, match=r"\(cannot be forced\) - .* running container"):
        store.remove(record.id, force=True, users=[running])
    assert store.remove(record.id, force=True, users=[stopped]) == [f"Deleted: {record.id}"]


def test_a_used_image_with_two_tags_loses_one_without_force(store: Store) -> None:
    record = unique_image(store, "used2", names=("app:1", "app:2"))
    user = ImageUser("c" * 64, record.id, running=True)
    assert store.remove("app:1", users=[user]) == ["Untagged: app:1"]
    with pytest.raises(ImageConflictError, match="must force"):
        store.remove("app:2", users=[user])
    assert store.remove("app:2", force=True, users=[user]) == ["Untagged: app:2"]
    assert store.find(record.id) is not None
    other = ImageUser("d" * 64, "sha256:" + "0" * 64, running=True)
    assert store.remove(record.id, users=[other]) == [f"Deleted: {record.id}"]
