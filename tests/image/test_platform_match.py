"""Platform normalization and matching, as containerd's `platforms` package does them."""

from __future__ import annotations

import pytest

from builder.image.model import Descriptor, Index, select_manifest
from builder.image.multiplatform import PlatformManifest, assemble_index
from builder.image.platform import (
    Platform,
    needs_emulation,
    normalize,
    parse_platform,
    parse_platforms,
    platform_satisfies,
)

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        (Platform("linux", "aarch64"), ARM64),
        (Platform("linux", "arm64", "v8"), ARM64),
        (Platform("linux", "arm"), Platform("linux", "arm", "v7")),
        (Platform("linux", "x86_64"), AMD64),
        (Platform("Linux", "AMD64"), AMD64),
    ],
)
def test_normalize(given: Platform, normal: Platform) -> None:
    assert normalize(given) == normal


def test_satisfies() -> None:
    assert platform_satisfies(ARM64, Platform("linux", "arm64", "v8"))
    assert platform_satisfies(Platform("linux", "arm", "v7"), Platform("linux", "arm", "v6"))
    assert not platform_satisfies(Platform("linux", "arm", "v6"), Platform("linux", "arm", "v7"))
    assert not platform_satisfies(ARM64, AMD64)
    assert platform_satisfies(ARM64, Platform("", ""))  # an image that says nothing


def test_parse_platforms_splits_commas_and_drops_repeats() -> None:
    assert parse_platforms(["linux/amd64,linux/arm64", "linux/aarch64", " linux/arm "]) == [
        AMD64,
        ARM64,
        Platform("linux", "arm", "v7"),
    ]
    with pytest.raises(ValueError):
        parse_platforms(["linux/amd64,nonsense/x"])


def test_needs_emulation() -> None:
    assert not needs_emulation(AMD64, AMD64)
    assert needs_emulation(ARM64, AMD64)
    assert not needs_emulation(Platform("linux", "386"), AMD64)
    assert not needs_emulation(Platform("linux", "arm", "v7"), ARM64)


def test_index_entries_with_v8_match_arm64() -> None:
    index = Index(
        manifests=(
            Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "a" * 64, 1,
                       platform=Platform("linux", "amd64")),
            Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "b" * 64, 1,
                       platform=Platform("linux", "arm64", "v8")),
        )
    )  # fmt: skip
    chosen = select_manifest(index, parse_platform("linux/arm64"))
    assert chosen is not None and chosen.digest == "sha256:" + "b" * 64


def test_assemble_index_keeps_order_and_normalizes() -> None:
    index = assemble_index(
        [
            PlatformManifest(Platform("linux", "aarch64"), "sha256:" + "b" * 64, 10),
            PlatformManifest(AMD64, "sha256:" + "a" * 64, 11),
        ]
    )
    assert [m.platform for m in index.manifests] == [ARM64, AMD64]
    assert index.media_type == "application/vnd.oci.image.index.v1+json"
    docker = assemble_index([PlatformManifest(AMD64, "sha256:" + "a" * 64, 11)], docker=True)
    assert docker.media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
