"""pull: a hostile or broken image stores no record, moves no tag, leaves no snapshot.

The images are pushed to the test registry from a source store that records
them without unpacking (`hostile_image`); pulling them must fail at unpack
time with one typed error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import ImageError, PybuildError
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.registry.client import RegistryClient, _manifest_media_type
from builder.registry.errors import RegistryStatusError
from builder.registry.pull import platform_list, pull
from builder.registry.push import push
from builder.store import Store
from tests.export.hostile_images import (
    DEEP_JSON,
    bad_layer_cases,
    hostile_image,
    snapshot_dirs,
    tree_listing,
)
from tests.registry.conftest import FAST_RETRY
from tests.registry.images import add_image
from tests.registry_server import RegistryServer

CASES = sorted(bad_layer_cases(Path("/nonexistent")))


def client_for(host: str) -> RegistryClient:
    return RegistryClient(host, retry=FAST_RETRY, credentials=None)


@pytest.mark.parametrize("case", CASES)
def test_hostile_pull_leaves_no_image(
    registry: RegistryServer, tmp_path: Path, repo: str, case: str
) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep").write_text("untouched")
    source = Store.open(tmp_path / "source")
    name = f"{registry.host}/{repo}:v1"
    layer, match = bad_layer_cases(sentinel)[case]
    hostile_image(source, layer, name)
    push(source, name, client=client_for(registry.host))

    target = Store.open(tmp_path / "target")
    good = add_image(target, [{"etc/good": b"good"}], name=name)
    target.ensure_snapshots(good)
    before = (target.images(), snapshot_dirs(target), tree_listing(sentinel))
    with pytest.raises(PybuildError, match=match):
        pull(target, name, client=client_for(registry.host))
    assert (target.images(), snapshot_dirs(target), tree_listing(sentinel)) == before
    assert target.resolve(name).id == good.id


class _DeepClient:
    """A registry client whose manifests are 100,000 levels deep."""

    def __init__(self, media_type: str):
        self.media_type = media_type

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        return DEEP_JSON, self.media_type, sha256_digest(DEEP_JSON)

    def close(self) -> None:
        return None


@pytest.mark.parametrize("media_type", [mediatypes.OCI_INDEX, mediatypes.OCI_MANIFEST])
def test_deeply_nested_registry_manifest_is_an_image_error(tmp_path: Path, media_type: str) -> None:
    store = Store.open(tmp_path / "store")
    with pytest.raises(ImageError, match="nested more than 100 levels deep"):
        pull(store, "127.0.0.1:1/x:1", client=_DeepClient(media_type))  # type: ignore[arg-type]
    assert store.images() == []


def test_deeply_nested_manifest_from_the_wire_is_a_registry_error() -> None:
    with pytest.raises(RegistryStatusError, match="nested more than 100 levels deep"):
        _manifest_media_type(mediatypes.OCI_MANIFEST, DEEP_JSON, "manifest x")


def test_platform_list_is_short() -> None:
    many = [f"linux/arch{i}" for i in range(20)]
    assert platform_list(many) == (
        "linux/arch0, linux/arch1, linux/arch2, linux/arch3, linux/arch4, linux/arch5 and 14 more"
    )
    assert platform_list(["linux/amd64"]) == "linux/amd64"
    assert platform_list([]) == "no usable platform"
