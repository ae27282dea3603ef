"""The distribution of a root filesystem, from `os-release` (for package URLs)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Distro:
    id: str = ""  #: `ID`: debian, ubuntu, alpine, fedora...
    version_id: str = ""  #: `VERSION_ID`: 12, 3.19.1...
    pretty_name: str = ""

    @property
    def qualifier(self) -> str:
        """The purl `distro` qualifier: `debian-12`, `alpine-3.19.1` ("" when unknown)."""
        if not self.id:
            return ""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines, values shell-quoted as os-release(5) says."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        fields[key.strip()] = " ".join(words)
    return fields


def read_distro(files: Mapping[str, bytes]) -> Distro:
    """From etc/os-release, else usr/lib/os-release (etc/ is often a link to it)."""
    for path in ("etc/os-release", "usr/lib/os-release"):
        data = files.get(path)
        if data is not None:
            fields = parse_os_release(data.decode("utf-8", "replace"))
            return Distro(
                fields.get("ID", ""), fields.get("VERSION_ID", ""), fields.get("PRETTY_NAME", "")
            )
    return Distro()
