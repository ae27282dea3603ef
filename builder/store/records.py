"""Image records as kept in the index: the public ImageRecord and what GC needs besides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from builder.errors import ImageError
from builder.image.digest import parse_digest


@dataclass(frozen=True)
class ImageRecord:
    """One image in the local store, as `pybuild images` lists it."""

    manifest_digest: str  #: the single-platform manifest stored for this image
    config_digest: str  #: the image ID (docker's IMAGE ID)
    media_type: str  #: manifest media type (OCI or Docker)
    names: tuple[str, ...]  #: full tagged names, e.g. "docker.io/library/debian:bookworm"
    repo_digests: tuple[str, ...]  #: e.g. "docker.io/library/debian@sha256:..."
    created: str  #: from the config ("" if none)
    added: float  #: when it entered this store (unix time)
    size: int  #: sum of the layers' compressed sizes + config size
    #: the attestation manifest (SBOM, provenance) stored with this image, if any
    attestations: str | None = None

    @property
    def id(self) -> str:
        return self.config_digest

    @property
    def short_id(self) -> str:
        return self.config_digest.split(":", 1)[1][:12]


@dataclass(frozen=True)
class ImageUser:
    """A container that uses an image: `rmi` refuses to remove that image without `-f`."""

    container_id: str
    image_id: str  #: config digest
    running: bool

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


@dataclass(frozen=True)
class StoredImage:
    """An ImageRecord plus what prune must keep without reading blobs."""

    record: ImageRecord
    layers: tuple[str, ...]  #: layer blob digests, base first
    chain_ids: tuple[str, ...]  #: snapshot keys, base first
    #: the attestation manifest's own blobs (itself, its config, its statements, the index)
    attestation_blobs: tuple[str, ...] = ()

    @property
    def blobs(self) -> tuple[str, ...]:
        r = self.record
        return (r.manifest_digest, r.config_digest, *self.layers, *self.attestation_blobs)

    def to_json(self) -> dict[str, Any]:
        r = self.record
        out: dict[str, Any] = {
            "manifest": r.manifest_digest,
            "config": r.config_digest,
            "mediaType": r.media_type,
            "names": list(r.names),
            "repoDigests": list(r.repo_digests),
            "created": r.created,
            "added": r.added,
            "size": r.size,
            "layers": list(self.layers),
            "chainIds": list(self.chain_ids),
        }
        if r.attestations is not None:  # optional keys: older pybuilds read the entry as before
            out["attestations"] = r.attestations
            out["attestationBlobs"] = list(self.attestation_blobs)
        return out

    @classmethod
    def from_json(cls, obj: Any) -> StoredImage:
        """Parse one index entry; ImageError naming what is wrong."""
        if not isinstance(obj, dict):
            raise ImageError("image entry is not an object")

        def text(key: str) -> str:
            value = obj.get(key)
            if not isinstance(value, str):
                raise ImageError(f"image entry field {key!r} is not a string")
            return value

        def texts(key: str) -> tuple[str, ...]:
            value = obj.get(key)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ImageError(f"image entry field {key!r} is not a list of strings")
            return tuple(value)

        added = obj.get("added")
        size = obj.get("size")
        if not isinstance(added, int | float) or isinstance(added, bool):
            raise ImageError("image entry field 'added' is not a number")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImageError("image entry field 'size' is not a size")
        record = ImageRecord(
            manifest_digest=parse_digest(text("manifest")),
            config_digest=parse_digest(text("config")),
            media_type=text("mediaType"),
            names=texts("names"),
            repo_digests=texts("repoDigests"),
            created=text("created"),
            added=float(added),
            size=size,
            attestations=parse_digest(text("attestations")) if "attestations" in obj else None,
        )
        layers = tuple(parse_digest(d) for d in texts("layers"))
        chain_ids = tuple(parse_digest(d) for d in texts("chainIds"))
        attestation_blobs = (
            tuple(parse_digest(d) for d in texts("attestationBlobs"))
            if "attestationBlobs" in obj
            else ()
        )
        return cls(record, layers, chain_ids, attestation_blobs)


@dataclass(frozen=True)
class IncomingImage:
    """An image to record once its snapshots are unpacked: `Store.add_unpacked_images`."""

    manifest_digest: str
    names: tuple[str, ...] = ()
    repo_digest: str | None = None


@dataclass(frozen=True)
class IndexRecord:
    """A multi-platform image in the store: an image index naming one image per platform.

    The index document is a blob (`digest`); each platform's image is an
    ordinary image record, found by its manifest digest. A name is on an
    image or on an index, never on both.
    """

    digest: str  #: the index blob
    media_type: str  #: OCI index or Docker manifest list
    names: tuple[str, ...]
    repo_digests: tuple[str, ...]
    platforms: tuple[tuple[str, str], ...]  #: (platform, manifest digest), in index order
    added: float

    @property
    def short_id(self) -> str:
        return self.digest.split(":", 1)[1][:12]

    @property
    def manifests(self) -> tuple[str, ...]:
        return tuple(digest for _, digest in self.platforms)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.digest,
            "mediaType": self.media_type,
            "names": list(self.names),
            "repoDigests": list(self.repo_digests),
            "platforms": [{"platform": p, "manifest": m} for p, m in self.platforms],
            "added": self.added,
        }

    @classmethod
    def from_json(cls, obj: Any) -> IndexRecord:
        """Parse one index entry of the store's index.json; ImageError naming what is wrong."""
        if not isinstance(obj, dict):
            raise ImageError("index entry is not an object")
        names, repo_digests, platforms = (
            obj.get("names"),
            obj.get("repoDigests"),
            obj.get("platforms"),
        )
        digest, media_type, added = obj.get("index"), obj.get("mediaType"), obj.get("added")
        if not isinstance(digest, str) or not isinstance(media_type, str):
            raise ImageError("index entry: 'index' and 'mediaType' must be strings")
        for key, value in (("names", names), ("repoDigests", repo_digests)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ImageError(f"index entry field {key!r} is not a list of strings")
        if not isinstance(platforms, list) or not all(
            isinstance(p, dict)
            and isinstance(p.get("platform"), str)
            and isinstance(p.get("manifest"), str)
            for p in platforms
        ):
            raise ImageError("index entry field 'platforms' is not a list of platforms")
        if not isinstance(added, int | float) or isinstance(added, bool):
            raise ImageError("index entry field 'added' is not a number")
        assert isinstance(names, list) and isinstance(repo_digests, list)
        return cls(
            digest=parse_digest(digest),
            media_type=media_type,
            names=tuple(names),
            repo_digests=tuple(repo_digests),
            platforms=tuple((p["platform"], parse_digest(p["manifest"])) for p in platforms),
            added=float(added),
        )
