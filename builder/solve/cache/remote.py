"""The shared build cache: `--cache-from` and `--cache-to`, as buildx users know them.

CI runners share work through it: one machine exports the step records of
a build (`--cache-to type=registry,ref=HOST/cache:main,mode=max`), another
with an empty store builds the same Dockerfile with `--cache-from` and runs
no step whose inputs are unchanged, downloading only the layers of the
steps it reuses.

The pieces: `cache_spec` (parsing the options), `cache_format` (pybuild's
documented format: step records in a plain OCI manifest, or inline in an
image config), `cache_import` (the sources the executor looks results up
in), `cache_export` (writing a build's records), `cache_layers` (layer
verification while downloading). This module is the API the CLI uses:

    specs_from = [parse_cache_option(v, direction="from") for v in cache_from]
    specs_to = [parse_cache_option(v, direction="to") for v in cache_to]
    sources = open_cache_sources(store, specs_from, warn=print_warning)
    request.cache_from = sources
    # type=inline: the executor calls embed_inline_cache(config, used) before it
    # writes the final image config (the records are part of the image ID)
    result = build(store, request)
    for spec in specs_to:
        lines = export_cache(store, spec, result.used, image_record=result.record)
    for source in sources:
        source.close()
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from builder.errors import PybuildError, UsageError
from builder.image.reference import parse_reference
from builder.solve.cache.format import INLINE_CACHE_KEY, inline_records, records_from_used
from builder.solve.cache.sources import CacheSource, LocalCacheSource, RegistryCacheSource
from builder.solve.cache.spec import CacheSpec, parse_cache_option

if TYPE_CHECKING:
    from builder.image.model import ImageConfig
    from builder.registry.transport import RetryPolicy
    from builder.solve.cache.types import UsedStep
    from builder.store import ImageRecord, Store

__all__ = [
    "INLINE_CACHE_KEY",
    "CacheSource",
    "CacheSpec",
    "embed_inline_cache",
    "export_cache",
    "inline_records",
    "open_cache_sources",
    "parse_cache_option",
]

Warn = Callable[[str], None]


def embed_inline_cache(config: ImageConfig, used: Sequence[UsedStep]) -> None:
    """`--cache-to type=inline`: put the final image's step records into its config.

    Call it on the final stage's config after the last step and before the
    config is serialized (the records are part of the image ID).
    """
    config.extra[INLINE_CACHE_KEY] = inline_records(used)


def open_cache_sources(
    store: Store,
    specs: Sequence[CacheSpec],
    *,
    insecure_registries: Collection[str] = (),
    warn: Warn | None = None,
    retry: RetryPolicy | None = None,
) -> list[CacheSource]:
    """The `--cache-from` sources, for `SolveRequest.cache_from` (nothing is fetched yet).

    Each imports its records on the first lookup (or `source.load()`); a
    cache that cannot be read gives a warning (to `warn`, and in
    `source.warnings`) and no hits. One registry client per registry is
    shared by its sources; call `source.close()` after the build.
    """
    from builder.registry.client import RegistryClient

    clients: dict[str, RegistryClient] = {}
    sources: list[CacheSource] = []
    for spec in specs:
        if spec.direction != "from":
            raise UsageError(f"{spec.describe()}: a --cache-to option cannot be imported")
        if spec.type == "registry":
            assert spec.ref is not None
            ref = parse_reference(spec.ref)
            client = clients.get(ref.registry)
            if client is None:
                client = RegistryClient(
                    ref.registry, insecure=ref.registry in insecure_registries, retry=retry
                )
                clients[ref.registry] = client
            sources.append(RegistryCacheSource(client, ref, warn))
        elif spec.type == "local":
            assert spec.src is not None
            sources.append(
                LocalCacheSource(store, Path(spec.src), tag=spec.tag, digest=spec.digest, warn=warn)
            )
        else:
            raise UsageError(
                "--cache-from type=inline is not a source; use type=registry,ref=IMAGE"
            )
    return sources


def export_cache(
    store: Store,
    spec: CacheSpec,
    used: Sequence[UsedStep],
    *,
    image_record: ImageRecord | None = None,
    insecure_registries: Collection[str] = (),
    retry: RetryPolicy | None = None,
) -> list[str]:
    """Export a build's step records (`SolveResult.used`) as `spec` says; return progress lines.

    mode=min exports the steps of the final image's chain, mode=max every
    step. With `ignore-error=true` a failure becomes a last line starting
    with "WARNING:"; otherwise it raises a PybuildError.
    """
    from builder.solve.cache.export import (
        check_inline,
        export_to_directory,
        export_to_registry,
    )

    if spec.direction != "to":
        raise UsageError(f"{spec.describe()}: a --cache-from option cannot be exported")
    try:
        if spec.type == "inline":
            return check_inline(store, image_record)
        records = records_from_used(used, spec.mode)
        if spec.type == "local":
            return export_to_directory(store, spec, records)
        assert spec.ref is not None
        registry = parse_reference(spec.ref).registry
        return export_to_registry(
            store, spec, records, insecure=registry in insecure_registries, retry=retry
        )
    except PybuildError as err:
        if not spec.ignore_error:
            raise
        return [f"WARNING: exporting cache to {spec.describe()} failed: {err.message}"]
