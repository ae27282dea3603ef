"""Platforms (`linux/arm64/v8`): parsing, normalizing, the host's own.

Normalization follows containerd's `platforms.Normalize`, which BuildKit
uses: `aarch64` is `arm64` (its `v8` variant is dropped), `x86_64` is
`amd64`, a bare `arm` is `arm/v7`, `armhf` is `arm/v7`.
"""

from __future__ import annotations

import platform as _platform
import sys
from dataclasses import dataclass

_KNOWN_OS = frozenset(
    {
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
        "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
    }
)  # fmt: skip
_KNOWN_ARCH = frozenset(
    {
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips",
        "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le",
        "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch in ("i386",):
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        return "arm64", "" if variant in ("8", "v8", "v8.0") else variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            return "arm", "v7"
        if variant in ("5", "6", "8"):
            return "arm", "v" + variant
        return "arm", variant
    return arch, variant


def parse_platform(text: str, *, default_os: str | None = None) -> Platform:
    """Parse `os[/arch[/variant]]` or a bare architecture; raise ValueError if invalid."""
    parts = text.strip().split("/")
    if not text.strip() or len(parts) > 3 or any(not p for p in parts):
        raise ValueError(f'"{text}": invalid platform specifier')
    if len(parts) == 1:
        word = parts[0].lower()
        if word in _KNOWN_OS or word == "macos":
            os_name = "darwin" if word == "macos" else word
            host = host_platform()
            return Platform(os_name, host.architecture, host.variant)
        arch, variant = _normalize_arch(word, "")
        if arch not in _KNOWN_ARCH:
            raise ValueError(f'"{text}": unknown operating system or architecture')
        return Platform(default_os or host_platform().os, arch, variant)
    os_name = parts[0].lower()
    os_name = "darwin" if os_name == "macos" else os_name
    arch, variant = _normalize_arch(parts[1], parts[2] if len(parts) == 3 else "")
    if os_name not in _KNOWN_OS:
        raise ValueError(f'"{text}": unknown operating system or architecture')
    return Platform(os_name, arch, variant)


def host_platform() -> Platform:
    """The platform this process runs on."""
    if sys.platform.startswith("win"):
        os_name = "windows"
    elif sys.platform == "darwin":
        os_name = "darwin"
    else:
        os_name = "linux"
    machine = _platform.machine().lower()
    mapping = {"armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "i686": ("386", "")}
    arch, variant = mapping.get(machine, (machine or "amd64", ""))
    arch, variant = _normalize_arch(arch, variant)
    return Platform(os_name, arch, variant)


def platform_args(target: Platform, build: Platform) -> dict[str, str]:
    """BuildKit's predefined platform ARGs."""
    return {
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETARCH": target.architecture,
        "TARGETVARIANT": target.variant,
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
    }
