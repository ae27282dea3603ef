"""pybuild's shared cache format: step records in an OCI image manifest.

A cache export is a plain OCI image manifest (docker-registry 2.8 accepts
it): its `config` is a JSON blob of media type
`application/vnd.pybuild.cache.config.v1+json`,

    {"version": 1, "records": [{"key": "sha256:...", "layer": DESCRIPTOR | null,
      "diff_id": "sha256:..." | null, "chain": "sha256:..." | null,
      "created": "2024-...Z", "inputs": {...} | null}, ...]}

records sorted by key, and its `layers` are the layer blobs the records
name, each once. The manifest carries the annotation
`org.pybuild.cache.v1: "true"`, so a reader knows it even if a registry
rewrote the config media type.

The inline cache puts the same `{"version": 1, "records": [...]}` object into
the built image's config under the top-level key `pybuild.cache.v1`; its
records name the image's own layers.

A record's `inputs` are the step's `StepInputs` with every `env` value
replaced by its sha256: a cache is often more public than the build
machine, and build arguments must not leak through it. Importers never
need them (a key is matched, not recomputed).

Everything read back is hostile: `decode_records` checks every field and
raises ImageError on anything malformed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from builder.errors import ImageError
from builder.image import mediatypes
from builder.image.digest import parse_digest, sha256_digest
from builder.image.model import Descriptor, Manifest
from builder.solve.cache.keys import CachedStep, StepInputs

if TYPE_CHECKING:
    from builder.solve.cache.types import UsedStep

CACHE_CONFIG_MEDIA_TYPE = "application/vnd.pybuild.cache.config.v1+json"
CACHE_ANNOTATION = "org.pybuild.cache.v1"
INLINE_CACHE_KEY = "pybuild.cache.v1"
FORMAT_VERSION = 1
#: The largest cache config (or image config holding inline records) read into memory.
MAX_CONFIG_SIZE = 32 << 20
MAX_RECORDS = 200_000
_MAX_CREATED = 64


@dataclass(frozen=True)
class CacheRecord:
    """One step result in a shared cache."""

    key: str
    layer: Descriptor | None
    diff_id: str | None
    chain: str | None
    created: str
    inputs: StepInputs | None = None

    def cached_step(self) -> CachedStep:
        return CachedStep(self.layer, self.diff_id, self.created, self.inputs, self.chain)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "layer": self.layer.to_json() if self.layer is not None else None,
            "diff_id": self.diff_id,
            "chain": self.chain,
            "created": self.created,
            "inputs": asdict(self.inputs) if self.inputs is not None else None,
        }


def redacted(inputs: StepInputs) -> StepInputs:
    """`inputs` with each env value replaced by its sha256 (values never leave the machine)."""
    env = {name: sha256_digest(value.encode()) for name, value in inputs.env.items()}
    return StepInputs(
        inputs.parent, inputs.instruction, env, dict(inputs.files), dict(inputs.extra)
    )


def records_from_used(used: Iterable[UsedStep], mode: str) -> list[CacheRecord]:
    """The records to export: mode "min" keeps the final image's steps, "max" all; by key."""
    records: dict[str, CacheRecord] = {}
    for step in used:
        if mode == "min" and not step.in_target:
            continue
        result = step.result
        if result.layer is not None and result.diff_id is None:
            continue  # cannot be restored without its diff_id
        records.setdefault(
            step.key,
            CacheRecord(
                key=step.key,
                layer=result.layer,
                diff_id=result.diff_id if result.layer is not None else None,
                chain=result.chain if result.layer is not None else None,
                created=result.created,
                inputs=redacted(step.inputs),
            ),
        )
    return [records[key] for key in sorted(records)]


def records_document(records: list[CacheRecord]) -> dict[str, Any]:
    """`{"version": 1, "records": [...]}`: the cache config, and the inline cache value."""
    return {"version": FORMAT_VERSION, "records": [r.to_json() for r in records]}


def inline_records(used: Iterable[UsedStep]) -> dict[str, Any]:
    """What `--cache-to type=inline` puts into the image config under INLINE_CACHE_KEY.

    Only the final image's steps (mode=min): their layers are the image's own.
    """
    return records_document(records_from_used(used, "min"))


def record_layers(records: list[CacheRecord]) -> list[Descriptor]:
    """The distinct layers the records name, in record order."""
    layers: dict[str, Descriptor] = {}
    for record in records:
        if record.layer is not None:
            layers.setdefault(record.layer.digest, record.layer)
    return list(layers.values())


def encode_cache_config(records: list[CacheRecord]) -> bytes:
    """The cache config blob: deterministic JSON (sorted keys, compact)."""
    return json.dumps(records_document(records), sort_keys=True, separators=(",", ":")).encode()


def cache_manifest(config: bytes, layers: list[Descriptor]) -> Manifest:
    """The OCI manifest of a cache export."""
    return Manifest(
        config=Descriptor(CACHE_CONFIG_MEDIA_TYPE, sha256_digest(config), len(config)),
        layers=tuple(layers),
        media_type=mediatypes.OCI_MANIFEST,
        annotations={CACHE_ANNOTATION: "true"},
    )


def is_cache_manifest(manifest: Manifest) -> bool:
    return (
        manifest.config.media_type == CACHE_CONFIG_MEDIA_TYPE
        or manifest.annotations.get(CACHE_ANNOTATION) == "true"
    )


# --- reading ---------------------------------------------------------------------------------


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ImageError(f"{what}: not valid JSON") from None
    if not isinstance(obj, dict):
        raise ImageError(f"{what}: expected a JSON object")
    return obj


def decode_records(document: Any, what: str) -> list[CacheRecord]:
    """The records of a cache config (or inline value); ImageError on anything malformed."""
    if not isinstance(document, dict):
        raise ImageError(f"{what}: expected a JSON object")
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise ImageError(
            f"{what}: unsupported cache format version {version!r} (this pybuild reads 1)",
            hint="export the cache again with this version of pybuild",
        )
    items = document.get("records")
    if not isinstance(items, list):
        raise ImageError(f"{what}: 'records' must be a list")
    if len(items) > MAX_RECORDS:
        raise ImageError(f"{what}: more than {MAX_RECORDS} records")
    return [_record(item, f"{what} record {i}") for i, item in enumerate(items)]


def _record(obj: Any, what: str) -> CacheRecord:
    if not isinstance(obj, dict):
        raise ImageError(f"{what}: expected an object")
    key = _digest(obj.get("key"), f"{what} key")
    layer_obj = obj.get("layer")
    layer = None
    diff_id = chain = None
    if layer_obj is not None:
        layer = Descriptor.from_json(layer_obj, f"{what} layer")
        if not mediatypes.is_layer(layer.media_type):
            raise ImageError(f"{what}: layer media type {layer.media_type[:100]!r} is not a layer")
        diff_id = _digest(obj.get("diff_id"), f"{what} diff_id")
        chain = _digest(obj["chain"], f"{what} chain") if obj.get("chain") is not None else None
    created = obj.get("created", "")
    if (
        not isinstance(created, str)
        or len(created) > _MAX_CREATED
        or not all(ch.isascii() and ch.isprintable() for ch in created)
    ):
        raise ImageError(f"{what}: 'created' must be a short timestamp string")
    inputs = StepInputs.from_json(obj.get("inputs")) if obj.get("inputs") is not None else None
    return CacheRecord(key, layer, diff_id, chain, created, inputs)


def _digest(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ImageError(f"{what}: expected a digest string")
    try:
        return parse_digest(value)
    except ImageError:
        raise ImageError(f"{what}: invalid digest {value[:80]!r}") from None


def index_records(
    records: list[CacheRecord], layers: Iterable[Descriptor], what: str
) -> tuple[dict[str, CacheRecord], list[str]]:
    """Records by key, keeping only those whose layer is one of `layers` (same digest and size).

    Returns the index and one problem line per record dropped; the first
    record of a key wins. A layer named with two different diff_ids drops
    every record naming it (one of them lies).
    """
    allowed = {layer.digest: layer.size for layer in layers}
    diff_ids: dict[str, set[str]] = {}
    for record in records:
        if record.layer is not None and record.diff_id is not None:
            diff_ids.setdefault(record.layer.digest, set()).add(record.diff_id)
    index: dict[str, CacheRecord] = {}
    problems: list[str] = []
    for record in records:
        layer = record.layer
        if layer is not None:
            if allowed.get(layer.digest) != layer.size:
                problems.append(f"{what}: record {record.key} names a layer the manifest lacks")
                continue
            if len(diff_ids[layer.digest]) > 1:
                problems.append(f"{what}: layer {layer.digest} has conflicting diff_ids")
                continue
        index.setdefault(record.key, record)
    return index, problems
