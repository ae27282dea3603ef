"""Media types of the OCI image spec and of Docker's v2 schema 2."""

from __future__ import annotations

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"  # uncompressed; rare
DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

#: What a registry is asked for when pulling by tag or digest.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST])

_COMPRESSION = {
    OCI_LAYER: "none",
    DOCKER_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    DOCKER_LAYER_ZSTD: "zstd",
}


def layer_compression(media_type: str) -> str | None:
    """ "none", "gzip" or "zstd" for a layer media type; None if it is not a layer."""
    return _COMPRESSION.get(media_type)


def is_layer(media_type: str) -> bool:
    return media_type in _COMPRESSION


def layer_media_type(compression: str, *, docker: bool) -> str:
    """The layer media type for a compression in the OCI or the Docker family."""
    if docker:
        table = {"gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD, "none": DOCKER_LAYER}
    else:
        table = {"gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD, "none": OCI_LAYER}
    return table[compression]


def to_docker(media_type: str) -> str:
    """The Docker schema 2 equivalent of an OCI media type (unchanged if none)."""
    return {
        OCI_MANIFEST: DOCKER_MANIFEST,
        OCI_INDEX: DOCKER_MANIFEST_LIST,
        OCI_CONFIG: DOCKER_CONFIG,
        OCI_LAYER_GZIP: DOCKER_LAYER_GZIP,
        OCI_LAYER_ZSTD: DOCKER_LAYER_ZSTD,
        OCI_LAYER: DOCKER_LAYER,
    }.get(media_type, media_type)


def to_oci(media_type: str) -> str:
    """The OCI equivalent of a Docker schema 2 media type (unchanged if none)."""
    return {
        DOCKER_MANIFEST: OCI_MANIFEST,
        DOCKER_MANIFEST_LIST: OCI_INDEX,
        DOCKER_CONFIG: OCI_CONFIG,
        DOCKER_LAYER_GZIP: OCI_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN_GZIP: OCI_LAYER_GZIP,
        DOCKER_LAYER_ZSTD: OCI_LAYER_ZSTD,
        DOCKER_LAYER: OCI_LAYER,
    }.get(media_type, media_type)
