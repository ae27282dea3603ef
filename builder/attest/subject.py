"""What an attestation is about: one image manifest, named as BuildKit names it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageSubject:
    """The image an SBOM or a provenance statement describes."""

    manifest_digest: str  #: `sha256:...` of the image manifest
    platform: str  #: `linux/amd64`
    names: tuple[str, ...] = ()  #: full names (`docker.io/library/sshd:latest`)

    def purls(self) -> list[str]:
        """`pkg:docker/NAME@TAG?platform=linux%2Famd64` for each name; ["_"] without one."""
        from packageurl import PackageURL

        found = []
        for name in self.names:
            repo, _, tag = (
                name.rpartition(":") if ":" in name.rpartition("/")[2] else (name, "", "")
            )
            namespace, _, short = repo.rpartition("/")
            found.append(
                PackageURL(
                    type="docker", namespace=namespace or None, name=short,
                    version=tag or "latest", qualifiers={"platform": self.platform},
                ).to_string()
            )  # fmt: skip
        return found or ["_"]

    @property
    def title(self) -> str:
        return self.names[0] if self.names else self.manifest_digest
