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


def normalize(platform: Platform) -> Platform:
    """The platform in OCI's canonical spelling (`arm64/v8` is `arm64`, `arm` is `arm/v7`)."""
    arch, variant = _normalize_arch(platform.architecture, platform.variant)
    return Platform(platform.os.lower(), arch, variant)


#: Variants an image may have and still run where `want`'s variant runs (newer runs older).
_OLDER_VARIANTS = {
    "arm": {"v8": ("v8", "v7", "v6", "v5"), "v7": ("v7", "v6", "v5"), "v6": ("v6", "v5")},
    "amd64": {"v4": ("v4", "v3", "v2", ""), "v3": ("v3", "v2", ""), "v2": ("v2", "")},
}


def platform_satisfies(want: Platform, have: Platform) -> bool:
    """Whether an image built for `have` runs on `want` (containerd's `Only` matcher).

    Both are normalized first; an image with no os or architecture is taken as
    matching (old images and hand-made ones leave them out).
    """
    want, have = normalize(want), normalize(have)
    if not have.architecture and not have.os:
        return True
    if (want.os, want.architecture) != (have.os, have.architecture):
        return False
    if want.variant == have.variant:
        return True
    older = _OLDER_VARIANTS.get(want.architecture, {}).get(want.variant)
    return older is not None and have.variant in older


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


def parse_platforms(texts: list[str]) -> list[Platform]:
    """`--platform a,b` (each item may hold commas), normalized, duplicates dropped, in order."""
    platforms: list[Platform] = []
    for text in texts:
        for item in text.split(","):
            if not item.strip():
                continue
            platform = parse_platform(item)
            if platform not in platforms:
                platforms.append(platform)
    return platforms


def needs_emulation(target: Platform, host: Platform | None = None) -> bool:
    """Whether a program for `target` needs an emulator on `host` (default: this one)."""
    host = normalize(host or host_platform())
    target = normalize(target)
    if target.os != host.os:
        return False  # another OS is not emulated; the runtime refuses it itself
    if target.architecture == host.architecture:
        return False
    native = {"amd64": ("386",), "arm64": ("arm",)}  # 64-bit hosts that run 32-bit code
    return target.architecture not in native.get(host.architecture, ())


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
