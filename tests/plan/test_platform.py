"""Platform strings, normalized like containerd (and so BuildKit)."""

from __future__ import annotations

import pytest

from builder.image.platform import Platform, host_platform, parse_platform, platform_args


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/6", "linux/arm/v6"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("Linux/S390X", "linux/s390x"),
        ("windows/amd64", "windows/amd64"),
        ("arm64", "linux/arm64"),
        ("linux/386", "linux/386"),
    ],
)
def test_parse_and_normalize(text: str, expected: str) -> None:
    assert str(parse_platform(text)) == expected


def test_os_only_takes_the_host_architecture() -> None:
    host = host_platform()
    assert parse_platform("linux") == Platform("linux", host.architecture, host.variant)


@pytest.mark.parametrize("text", ["", "linux/", "/amd64", "a/b/c/d", "beos/m68k", "z80"])
def test_invalid_platforms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_platform(text)


def test_platform_args() -> None:
    args = platform_args(Platform("linux", "arm", "v7"), Platform("linux", "amd64"))
    assert args == {
        "TARGETPLATFORM": "linux/arm/v7", "TARGETOS": "linux", "TARGETARCH": "arm",
        "TARGETVARIANT": "v7", "BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux",
        "BUILDARCH": "amd64", "BUILDVARIANT": "",
    }  # fmt: skip
