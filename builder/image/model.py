"""OCI documents as dataclasses: descriptors, manifests, indexes, image configs.

Parsing is strict about types, because these bytes come from registries and
archives: a wrong shape raises `ImageError` naming the field. Documents read
from outside are stored as the exact bytes received (their digest depends on
them); the dataclasses here are for reading them and for writing new ones.
`to_bytes()` gives a deterministic, compact serialization.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from builder.errors import ImageError
from builder.image import mediatypes
from builder.image.digest import parse_digest
from builder.image.jsontext import parse_json
from builder.image.platform import Platform, normalize

#: Lone surrogates: the bytes of a Dockerfile that were not UTF-8 (kept as surrogate escapes).
_SURROGATES = re.compile("[\ud800-\udfff]")


def _dumps(obj: Any) -> bytes:
    """Compact JSON in UTF-8; a byte that was not UTF-8 becomes U+FFFD (as Go writes it)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode()


def _loads(data: bytes, what: str) -> dict[str, Any]:
    obj = parse_json(data, what)
    if not isinstance(obj, dict):
        raise ImageError(f"{what}: expected a JSON object")
    return obj


def _get(
    obj: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str, default: Any = None
) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ImageError(f"{what}: field {key!r} has the wrong type")
    return value


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ImageError(f"{what}: expected a map of strings")
    return dict(value)


def _str_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageError(f"{what}: expected a list of strings")
    return list(value)


# --- descriptors -------------------------------------------------------------------


def platform_from_json(obj: Any, what: str) -> Platform | None:
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise ImageError(f"{what}: platform must be an object")
    os_name = _get(obj, "os", str, what, "")
    arch = _get(obj, "architecture", str, what, "")
    return Platform(os_name, arch, _get(obj, "variant", str, what, ""))


def platform_to_json(platform: Platform) -> dict[str, str]:
    out = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        out["variant"] = platform.variant
    return out


@dataclass(frozen=True)
class Descriptor:
    """A pointer to content: media type, digest, size (and optional extras)."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Any, what: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise ImageError(f"{what}: expected an object")
        media_type = _get(obj, "mediaType", str, what, "")
        digest = _get(obj, "digest", str, what)
        size = _get(obj, "size", int, what)
        if digest is None or size is None:
            raise ImageError(f"{what}: digest and size are required")
        if size < 0:
            raise ImageError(f"{what}: negative size")
        urls = _str_list(obj.get("urls"), what) or []
        return cls(
            media_type=media_type,
            digest=parse_digest(digest),
            size=size,
            annotations=_str_map(obj.get("annotations"), what),
            platform=platform_from_json(obj.get("platform"), what),
            urls=tuple(urls),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = platform_to_json(self.platform)
        return out


# --- manifests and indexes ----------------------------------------------------------


def _document(
    data: bytes, what: str, media_type: str | None, default: str, allowed: frozenset[str]
) -> tuple[dict[str, Any], str]:
    """A schema-2 manifest or index as JSON, and its media type (declared, given or default)."""
    obj = _loads(data, what)
    if _get(obj, "schemaVersion", int, what) != 2:
        raise ImageError(f"{what}: unsupported schemaVersion (only 2 is supported)")
    declared = _get(obj, "mediaType", str, what, "") or media_type or default
    if declared not in allowed:
        raise ImageError(f"{what}: unsupported media type {declared!r}")
    return obj, declared


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI or Docker v2 schema 2): one config, ordered layers."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = mediatypes.OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Manifest:
        what = "manifest"
        obj, declared = _document(
            data, what, media_type, mediatypes.OCI_MANIFEST, mediatypes.MANIFEST_TYPES
        )
        if "manifests" in obj:
            raise ImageError(f"{what}: an index was given where a manifest was expected")
        layers = _get(obj, "layers", list, what, [])
        return cls(
            config=Descriptor.from_json(obj.get("config"), f"{what} config"),
            layers=tuple(
                Descriptor.from_json(x, f"{what} layer {i}") for i, x in enumerate(layers)
            ),
            media_type=declared,
            annotations=_str_map(obj.get("annotations"), what),
        )

    def to_bytes(self) -> bytes:
        obj: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            obj["annotations"] = dict(self.annotations)
        return _dumps(obj)


@dataclass(frozen=True)
class Index:
    """An image index / Docker manifest list: one manifest per platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str = mediatypes.OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Index:
        what = "index"
        obj, declared = _document(
            data, what, media_type, mediatypes.OCI_INDEX, mediatypes.INDEX_TYPES
        )
        entries = _get(obj, "manifests", list, what, [])
        return cls(
            manifests=tuple(
                Descriptor.from_json(x, f"{what} entry {i}") for i, x in enumerate(entries)
            ),
            media_type=declared,
            annotations=_str_map(obj.get("annotations"), what),
        )

    def to_bytes(self) -> bytes:
        obj: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [m.to_json() for m in self.manifests],
        }
        if self.annotations:
            obj["annotations"] = dict(self.annotations)
        return _dumps(obj)


def is_index(data: bytes, media_type: str | None = None) -> bool:
    """Whether a manifest-ish document is an index (by media type, else by shape)."""
    if media_type in mediatypes.INDEX_TYPES:
        return True
    if media_type in mediatypes.MANIFEST_TYPES:
        return False
    obj = _loads(data, "manifest")
    declared = obj.get("mediaType")
    if declared in mediatypes.INDEX_TYPES:
        return True
    return "manifests" in obj and "layers" not in obj


def platform_matches(wanted: Platform, offered: Platform | None) -> bool:
    """Whether an index entry's platform serves `wanted` (variant optional when unset).

    Both are normalized first: `arm64/v8` is `arm64`, `arm` is `arm/v7`.
    """
    if offered is None:
        return False
    wanted, offered = normalize(wanted), normalize(offered)
    if (offered.os, offered.architecture) != (wanted.os, wanted.architecture):
        return False
    if not wanted.variant or not offered.variant:
        return True
    return offered.variant == wanted.variant


def select_manifest(index: Index, wanted: Platform) -> Descriptor | None:
    """The index entry for `wanted`, preferring an exact variant match; None if absent."""
    candidates = [
        d
        for d in index.manifests
        if d.media_type in mediatypes.MANIFEST_TYPES | {""} and platform_matches(wanted, d.platform)
    ]
    for d in candidates:
        if d.platform is not None and normalize(d.platform).variant == normalize(wanted).variant:
            return d
    return candidates[0] if candidates else None


# --- image config ---------------------------------------------------------------------


@dataclass
class HealthCheck:
    test: list[str]
    interval: int = 0  #: nanoseconds, like Docker
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ):
            if value:
                out[key] = value
        return out


@dataclass
class ContainerConfig:
    """The `config` object of an image config: how a container of it runs."""

    user: str = ""
    exposed_ports: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: HealthCheck | None = None
    on_build: list[str] | None = None
    shell: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  #: fields this model does not know

    _KNOWN = (
        "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
        "Labels", "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell",
    )  # fmt: skip

    @classmethod
    def from_json(cls, obj: Any, what: str = "image config") -> ContainerConfig:
        if obj is None:
            return cls()
        if not isinstance(obj, dict):
            raise ImageError(f"{what}: 'config' must be an object")
        hc_obj = obj.get("Healthcheck")
        healthcheck = None
        if hc_obj is not None:
            if not isinstance(hc_obj, dict):
                raise ImageError(f"{what}: Healthcheck must be an object")
            healthcheck = HealthCheck(
                test=_str_list(hc_obj.get("Test"), what) or [],
                interval=_get(hc_obj, "Interval", int, what, 0),
                timeout=_get(hc_obj, "Timeout", int, what, 0),
                start_period=_get(hc_obj, "StartPeriod", int, what, 0),
                start_interval=_get(hc_obj, "StartInterval", int, what, 0),
                retries=_get(hc_obj, "Retries", int, what, 0),
            )
        ports = _get(obj, "ExposedPorts", dict, what, {})
        volumes = _get(obj, "Volumes", dict, what, {})
        return cls(
            user=_get(obj, "User", str, what, ""),
            exposed_ports={str(k): {} for k in ports},
            env=_str_list(obj.get("Env"), what) or [],
            entrypoint=_str_list(obj.get("Entrypoint"), what),
            cmd=_str_list(obj.get("Cmd"), what),
            volumes={str(k): {} for k in volumes},
            working_dir=_get(obj, "WorkingDir", str, what, ""),
            labels=_str_map(obj.get("Labels"), what),
            stop_signal=_get(obj, "StopSignal", str, what, ""),
            args_escaped=_get(obj, "ArgsEscaped", bool, what, False),
            healthcheck=healthcheck,
            on_build=_str_list(obj.get("OnBuild"), what),
            shell=_str_list(obj.get("Shell"), what),
            extra={k: v for k, v in obj.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {k: {} for k in sorted(self.exposed_ports)}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {k: {} for k in sorted(self.volumes)}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(sorted(self.labels.items()))
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.args_escaped:
            out["ArgsEscaped"] = True
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        return out

    def env_map(self) -> dict[str, str]:
        """`Env` as a dict (later entries win, as in Docker)."""
        result: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            result[key] = value
        return result


@dataclass
class History:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass
class ImageConfig:
    """An image configuration (`application/vnd.oci.image.config.v1+json`)."""

    architecture: str
    os: str
    diff_ids: list[str] = field(default_factory=list)
    config: ContainerConfig = field(default_factory=ContainerConfig)
    history: list[History] = field(default_factory=list)
    created: str = ""
    author: str = ""
    variant: str = ""
    os_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  #: fields this model does not know

    _KNOWN = (
        "architecture", "os", "rootfs", "config", "history", "created", "author",
        "variant", "os.version",
    )  # fmt: skip

    @property
    def platform(self) -> Platform:
        return Platform(self.os, self.architecture, self.variant)

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        what = "image config"
        obj = _loads(data, what)
        rootfs = _get(obj, "rootfs", dict, what, {})
        if rootfs and rootfs.get("type", "layers") != "layers":
            raise ImageError(f"{what}: rootfs.type must be 'layers'")
        diff_ids = [parse_digest(d) for d in (_str_list(rootfs.get("diff_ids"), what) or [])]
        history_list = _get(obj, "history", list, what, [])
        history = []
        for i, h in enumerate(history_list):
            if not isinstance(h, dict):
                raise ImageError(f"{what}: history entry {i} must be an object")
            w = f"{what} history {i}"
            history.append(
                History(
                    created=_get(h, "created", str, w, ""),
                    created_by=_get(h, "created_by", str, w, ""),
                    author=_get(h, "author", str, w, ""),
                    comment=_get(h, "comment", str, w, ""),
                    empty_layer=_get(h, "empty_layer", bool, w, False),
                )
            )
        return cls(
            architecture=_get(obj, "architecture", str, what, ""),
            os=_get(obj, "os", str, what, ""),
            diff_ids=diff_ids,
            config=ContainerConfig.from_json(obj.get("config"), what),
            history=history,
            created=_get(obj, "created", str, what, ""),
            author=_get(obj, "author", str, what, ""),
            variant=_get(obj, "variant", str, what, ""),
            os_version=_get(obj, "os.version", str, what, ""),
            extra={k: v for k, v in obj.items() if k not in cls._KNOWN},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["architecture"] = self.architecture
        if self.author:
            out["author"] = self.author
        out["config"] = self.config.to_json()
        if self.created:
            out["created"] = self.created
        out["history"] = [h.to_json() for h in self.history]
        out["os"] = self.os
        if self.os_version:
            out["os.version"] = self.os_version
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        if self.variant:
            out["variant"] = self.variant
        return out

    def to_bytes(self) -> bytes:
        return _dumps(self.to_json())

    def with_layer(self, diff_id: str, history: History) -> ImageConfig:
        """A copy with one more layer and its history entry."""
        return replace(self, diff_ids=[*self.diff_ids, diff_id], history=[*self.history, history])
