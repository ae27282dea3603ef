"""The shared build cache: --cache-to / --cache-from between two machines (two stores).

Machine A builds and exports; machine B, a fresh store with only the base
image, builds the same context from the cache. The registry is a real
docker-registry (behind a FaultProxy where requests are counted).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.errors import ImageError, UsageError
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.registry.push import push
from builder.registry.transport import RetryPolicy
from builder.solve.cache.format import (
    CACHE_ANNOTATION,
    CACHE_CONFIG_MEDIA_TYPE,
    INLINE_CACHE_KEY,
    decode_records,
)
from builder.solve.cache.remote import (
    CacheSource,
    embed_inline_cache,
    export_cache,
    open_cache_sources,
    parse_cache_option,
)
from builder.solve.progress import StepDone, StepStarted
from builder.solve.request import SolveResult
from builder.store import ImageRecord, Store
from tests.registry_server import FaultProxy, RegistryServer, free_port, start_registry
from tests.solve.building import busybox_store, output_of, run_build, write_context

DOCKERFILE = """
FROM busybox
COPY app.txt /app/app.txt
RUN echo built > /built.txt
RUN sleep 1 && date +%s%N > /date.txt
"""

MULTI_STAGE = """
FROM busybox AS builder
RUN echo compiled > /artifact
RUN echo scratch-work > /tmp/work
FROM busybox
COPY --from=builder /artifact /artifact
RUN cat /artifact > /copy
"""

FAST_RETRY = RetryPolicy(attempts=1, backoff=0.01)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with start_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    with FaultProxy(registry) as server:
        yield server


def _steps(events: list) -> dict[str, bool]:
    """Step name -> came from the cache (FROM lines left out)."""
    names = {e.vertex: e.name for e in events if isinstance(e, StepStarted)}
    return {
        names[e.vertex]: e.cached
        for e in events
        if isinstance(e, StepDone) and " FROM " not in f" {names[e.vertex]}"
    }


def _layers(store: Store, record: ImageRecord) -> list[str]:
    return [layer.digest for layer in store.manifest(record).layers]


def _fresh(tmp_path: Path, name: str, rootfs: Path) -> Store:
    return busybox_store(tmp_path / name, rootfs)


def _sources(store: Store, *values: str, warnings: list[str] | None = None) -> list[CacheSource]:
    specs = [parse_cache_option(v, direction="from") for v in values]
    return open_cache_sources(
        store, specs, warn=warnings.append if warnings is not None else None, retry=FAST_RETRY
    )


def _export(store: Store, value: str, result: SolveResult) -> list[str]:
    spec = parse_cache_option(value, direction="to")
    return export_cache(store, spec, result.used, image_record=result.record)


def _cache_document(registry: RegistryServer, repo: str, tag: str) -> tuple[Manifest, dict]:
    from builder.registry.client import RegistryClient

    with RegistryClient(registry.host) as client:
        data, media_type, _ = client.get_manifest(repo, tag)
        manifest = Manifest.from_bytes(data, media_type)
        import io

        buffer = io.BytesIO()
        client.get_blob(repo, manifest.config.digest, buffer)
    return manifest, json.loads(buffer.getvalue())


@pytest.fixture(scope="module")
def machine_a(
    tmp_path_factory: pytest.TempPathFactory, busybox_rootfs_tar: Path, registry: RegistryServer
) -> tuple[Store, Path, SolveResult, list[str]]:
    """Machine A: built DOCKERFILE and exported it to HOST/cache:main with mode=max."""
    root = tmp_path_factory.mktemp("machine-a")
    store = busybox_store(root / "store", busybox_rootfs_tar)
    context = write_context(root / "ctx", DOCKERFILE, {"app.txt": "hello\n"})
    result = run_build(store, context, tags=["app:a"])
    messages = _export(store, f"type=registry,ref={registry.host}/cache:main,mode=max", result)
    return store, context, result, messages


# --- 1. a second machine reuses everything ------------------------------------------------------


def test_registry_cache_makes_a_fresh_machine_run_nothing(
    machine_a: tuple[Store, Path, SolveResult, list[str]],
    registry: RegistryServer,
    proxy: FaultProxy,
    tmp_path: Path,
    busybox_rootfs_tar: Path,
) -> None:
    store_a, _, result_a, messages = machine_a
    assert messages[0] == f"exporting cache to registry {registry.host}/cache:main"
    assert messages[-1].startswith("writing manifest sha256:")
    manifest, document = _cache_document(registry, "cache", "main")
    assert manifest.config.media_type == CACHE_CONFIG_MEDIA_TYPE
    assert manifest.annotations == {CACHE_ANNOTATION: "true"}
    keys = [r["key"] for r in document["records"]]
    assert keys == sorted(keys) and len(keys) == 3
    built = _layers(store_a, result_a.record)[1:]  # the base layer is not part of the cache
    assert sorted(layer.digest for layer in manifest.layers) == sorted(built)

    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    context_b = write_context(tmp_path / "ctx-b", DOCKERFILE, {"app.txt": "hello\n"})
    warnings: list[str] = []
    sources = _sources(store_b, f"type=registry,ref={proxy.host}/cache:main", warnings=warnings)
    events: list = []
    result_b = run_build(store_b, context_b, events=events, cache_from=sources)

    assert warnings == []
    assert list(_steps(events).values()) == [True, True, True]
    assert output_of(events) == ""
    assert _layers(store_b, result_b.record) == _layers(store_a, result_a.record)
    assert result_b.record.id == result_a.record.id  # same config: history times come along
    blob_gets = [e.path for e in proxy.log if e.method == "GET" and "/blobs/" in e.path]
    wanted = {manifest.config.digest, *(layer.digest for layer in manifest.layers)}
    assert sorted(p.rsplit("/", 1)[1] for p in blob_gets) == sorted(wanted)  # each once


# --- 2. a changed step runs, the ones before it come from the cache -----------------------------


def test_changed_last_step_runs_and_earlier_ones_are_reused(
    machine_a: tuple[Store, Path, SolveResult, list[str]],
    registry: RegistryServer,
    tmp_path: Path,
    busybox_rootfs_tar: Path,
) -> None:
    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    changed = DOCKERFILE.replace("date +%s%N > /date.txt", "echo changed > /date.txt")
    context_b = write_context(tmp_path / "ctx-b", changed, {"app.txt": "hello\n"})
    events: list = []
    result = run_build(
        store_b, context_b, events=events,
        cache_from=_sources(store_b, f"{registry.host}/cache:main"),  # bare REF: registry
    )  # fmt: skip
    assert list(_steps(events).values()) == [True, True, False]
    _, _, result_a, _ = machine_a
    assert _layers(store_b, result.record)[:3] == _layers(machine_a[0], result_a.record)[:3]


# --- 3. mode=min keeps only the final image's steps ---------------------------------------------


def test_mode_min_lacks_the_builder_stage_and_max_has_it(
    registry: RegistryServer, tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = _fresh(tmp_path, "a", busybox_rootfs_tar)
    context = write_context(tmp_path / "ctx", MULTI_STAGE)
    result = run_build(store, context)
    builder_keys = {u.key for u in result.used if not u.in_target}
    target_keys = {u.key for u in result.used if u.in_target}
    assert len(builder_keys) == 2 and len(target_keys) == 2

    _export(store, f"type=registry,ref={registry.host}/multi:min", result)  # min is the default
    _export(store, f"type=registry,ref={registry.host}/multi:max,mode=max", result)
    min_manifest, min_doc = _cache_document(registry, "multi", "min")
    max_manifest, max_doc = _cache_document(registry, "multi", "max")
    assert {r["key"] for r in min_doc["records"]} == target_keys
    assert {r["key"] for r in max_doc["records"]} == target_keys | builder_keys
    assert len(min_manifest.layers) == 2
    min_layers = {layer.digest for layer in min_manifest.layers}
    max_layers = [layer.digest for layer in max_manifest.layers]
    assert min_layers < set(max_layers) and len(max_layers) == len(set(max_layers))

    # from the min cache, a fresh machine runs the builder stage again
    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    events: list = []
    run_build(
        store_b, context, events=events,
        cache_from=_sources(store_b, f"type=registry,ref={registry.host}/multi:min"),
    )  # fmt: skip
    cached = _steps(events)
    assert [cached[n] for n in cached if n.startswith("[builder")] == [False, False]
    assert [cached[n] for n in cached if not n.startswith("[builder")] == [True, True]


# --- 4. type=local round trip ---------------------------------------------------------------------


def test_local_cache_round_trip(
    machine_a: tuple[Store, Path, SolveResult, list[str]], tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store_a, context_a, result_a, _ = machine_a
    cache_dir = tmp_path / "cache"
    messages = _export(store_a, f"type=local,dest={cache_dir},mode=max,tag=v1", result_a)
    assert messages[0] == f"exporting cache to local directory {cache_dir}"
    index = json.loads((cache_dir / "index.json").read_text())
    assert [m["annotations"] for m in index["manifests"]] == [
        {"org.opencontainers.image.ref.name": "v1"}
    ]
    assert json.loads((cache_dir / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}

    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    events: list = []
    warnings: list[str] = []
    sources = _sources(store_b, f"type=local,src={cache_dir},tag=v1", warnings=warnings)
    result_b = run_build(store_b, context_a, events=events, cache_from=sources)
    assert warnings == []
    assert list(_steps(events).values()) == [True, True, True]
    assert result_b.record.id == result_a.record.id

    # an unknown tag is a warning, not an error
    other = _fresh(tmp_path, "c", busybox_rootfs_tar)
    warnings = []
    (source,) = _sources(other, f"type=local,src={cache_dir}", warnings=warnings)
    assert source.lookup(result_a.used[0].key) is None
    assert "no cache tagged 'latest'" in warnings[0]


def test_local_cache_refuses_symlinked_and_tampered_blobs(
    machine_a: tuple[Store, Path, SolveResult, list[str]], tmp_path: Path
) -> None:
    store_a, _, result_a, _ = machine_a
    cache_dir = tmp_path / "cache"
    _export(store_a, f"type=local,dest={cache_dir},mode=max", result_a)
    layer = next(u.result.layer for u in result_a.used if u.result.layer is not None)
    blob = cache_dir / "blobs" / "sha256" / layer.digest.split(":")[1]
    blob.unlink()
    blob.symlink_to("/etc/passwd")
    store_c = Store.open(tmp_path / "c")
    warnings: list[str] = []
    (source,) = _sources(store_c, f"type=local,src={cache_dir}", warnings=warnings)
    assert source.fetch_layer(store_c, layer) is False
    assert "symlink" in warnings[-1]
    blob.unlink()
    original = store_a.read_blob(layer.digest)
    blob.write_bytes(bytes([original[0] ^ 1]) + original[1:])
    (source,) = _sources(store_c, f"type=local,src={cache_dir}", warnings=warnings)
    assert source.fetch_layer(store_c, layer) is False
    assert "digest mismatch" in warnings[-1]
    assert not store_c.has_blob(layer.digest)


# --- 5. inline: records in the image config -------------------------------------------------------


def _with_inline_cache(store: Store, result: SolveResult, name: str) -> ImageRecord:
    """The image as the executor writes it for --cache-to type=inline (records in its config)."""
    config = ImageConfig.from_bytes(store.config_bytes(result.record))
    embed_inline_cache(config, result.used)
    data = config.to_bytes()
    manifest = Manifest(
        Descriptor(mediatypes.OCI_CONFIG, store.put_blob(data), len(data)),
        store.manifest(result.record).layers,
        mediatypes.OCI_MANIFEST,
    )
    return store.add_image(store.put_blob(manifest.to_bytes()), names=[name])


def test_inline_cache_in_a_pushed_image(
    machine_a: tuple[Store, Path, SolveResult, list[str]],
    registry: RegistryServer,
    tmp_path: Path,
    busybox_rootfs_tar: Path,
) -> None:
    store_a, context_a, result_a, _ = machine_a
    image = f"{registry.host}/app:inline"
    record = _with_inline_cache(store_a, result_a, image)
    records = decode_records(store_a.config(record).extra[INLINE_CACHE_KEY], "inline")
    assert len(records) == 3
    spec = parse_cache_option("type=inline", direction="to")
    assert export_cache(store_a, spec, result_a.used, image_record=record)[0].startswith(
        "exporting cache inline: 3 records"
    )
    push(store_a, image)
    # a cache export to another repository mounts the layers from the pushed image's
    messages = _export(store_a, f"type=registry,ref={registry.host}/other:m,mode=max", result_a)
    assert "exporting 3 layers: 0 uploaded, 0 already there, 3 mounted" in messages

    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    events: list = []
    warnings: list[str] = []
    result_b = run_build(
        store_b, context_a, events=events,
        cache_from=_sources(store_b, f"type=registry,ref={image}", warnings=warnings),
    )  # fmt: skip
    assert warnings == []
    assert list(_steps(events).values()) == [True, True, True]
    assert _layers(store_b, result_b.record) == _layers(store_a, record)

    # an image without records: a warning, and the build runs
    plain = f"{registry.host}/app:plain"
    store_a.tag(result_a.record.id, plain)
    push(store_a, plain)
    warnings = []
    (source,) = _sources(store_b, plain, warnings=warnings)
    assert source.load() == 0
    assert "without pybuild cache records" in warnings[0]


# --- 6. a missing cache is a warning ---------------------------------------------------------------


def test_missing_ref_and_unreachable_registry_only_warn(
    registry: RegistryServer, tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = _fresh(tmp_path, "b", busybox_rootfs_tar)
    context = write_context(tmp_path / "ctx", DOCKERFILE, {"app.txt": "other\n"})
    warnings: list[str] = []
    sources = _sources(
        store,
        f"type=registry,ref={registry.host}/cache:does-not-exist",
        f"type=registry,ref=127.0.0.1:{free_port()}/cache:main",
        f"type=local,src={tmp_path / 'no-such-dir'}",
        warnings=warnings,
    )
    events: list = []
    run_build(store, context, events=events, cache_from=sources)
    assert list(_steps(events).values()) == [False, False, False]
    assert len(warnings) == 3
    assert all(w.startswith("importing cache from ") for w in warnings)
    assert "cache:does-not-exist" in warnings[0] and "MANIFEST_UNKNOWN" in warnings[0]


# --- 7. a tampered layer: that step runs, nothing corrupt is stored ---------------------------------


def test_tampered_cache_layer_is_refused_and_the_step_runs(
    registry: RegistryServer, tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store_a = _fresh(tmp_path, "a", busybox_rootfs_tar)
    context = write_context(tmp_path / "ctx", DOCKERFILE, {"app.txt": "tamper me\n"})
    result_a = run_build(store_a, context)
    _export(store_a, f"type=registry,ref={registry.host}/cache:tamper,mode=max", result_a)
    last = _layers(store_a, result_a.record)[-1]
    data = registry.storage / "docker/registry/v2/blobs/sha256" / last[7:9] / last[7:] / "data"
    original = data.read_bytes()
    data.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])

    store_b = _fresh(tmp_path, "b", busybox_rootfs_tar)
    events: list = []
    warnings: list[str] = []
    result_b = run_build(
        store_b, context, events=events,
        cache_from=_sources(store_b, f"{registry.host}/cache:tamper", warnings=warnings),
    )  # fmt: skip
    assert list(_steps(events).values()) == [True, True, False]
    assert len(warnings) == 1 and "digest mismatch" in warnings[0] and last in warnings[0]
    assert not store_b.has_blob(last)
    assert _layers(store_b, result_b.record)[:3] == _layers(store_a, result_a.record)[:3]


# --- hostile records and option parsing -----------------------------------------------------------


def test_records_with_a_wrong_diff_id_are_not_stored(
    machine_a: tuple[Store, Path, SolveResult, list[str]], tmp_path: Path
) -> None:
    """A cache that lies about a layer's diff_id: the layer is refused before it is stored."""
    store_a, _, result_a, _ = machine_a
    cache_dir = tmp_path / "cache"
    _export(store_a, f"type=local,dest={cache_dir},mode=max", result_a)
    index = json.loads((cache_dir / "index.json").read_text())
    manifest_path = cache_dir / "blobs/sha256" / index["manifests"][0]["digest"][7:]
    manifest = json.loads(manifest_path.read_text())
    config_path = cache_dir / "blobs/sha256" / manifest["config"]["digest"][7:]
    document = json.loads(config_path.read_text())
    victim = next(r for r in document["records"] if r["layer"])
    victim["diff_id"] = sha256_digest(b"lie")
    config = json.dumps(document).encode()
    (cache_dir / "blobs/sha256" / sha256_digest(config)[7:]).write_bytes(config)
    manifest["config"].update(digest=sha256_digest(config), size=len(config))
    manifest_bytes = json.dumps(manifest).encode()
    (cache_dir / "blobs/sha256" / sha256_digest(manifest_bytes)[7:]).write_bytes(manifest_bytes)
    index["manifests"][0].update(digest=sha256_digest(manifest_bytes), size=len(manifest_bytes))
    (cache_dir / "index.json").write_text(json.dumps(index))

    store_c = Store.open(tmp_path / "c")
    warnings: list[str] = []
    (source,) = _sources(store_c, f"type=local,src={cache_dir}", warnings=warnings)
    hit = source.lookup(victim["key"])
    assert hit is not None and hit.layer is not None
    assert source.fetch_layer(store_c, hit.layer) is False
    assert "diff_id" in warnings[-1]
    assert not store_c.has_blob(hit.layer.digest)
    assert source.lookup(victim["key"]) is None  # not tried again


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"version": 2, "records": []},
        {"version": 1, "records": {}},
        {"version": 1, "records": [{"key": "../../etc"}]},
        {"version": 1, "records": [{"key": "sha256:" + "a" * 64, "layer": {"digest": "x"}}]},
        {"version": 1, "records": [{"key": "sha256:" + "a" * 64, "created": 5}]},
        {
            "version": 1,
            "records": [
                {
                    "key": "sha256:" + "a" * 64,
                    "layer": {"mediaType": "text/html", "digest": "sha256:" + "b" * 64, "size": 1},
                    "diff_id": "sha256:" + "c" * 64,
                }
            ],
        },
    ],
)
def test_malformed_records_are_image_errors(document: object) -> None:
    with pytest.raises(ImageError):
        decode_records(document, "cache")


def test_env_values_never_leave_the_machine(
    machine_a: tuple[Store, Path, SolveResult, list[str]], registry: RegistryServer
) -> None:
    _, document = _cache_document(registry, "cache", "main")
    run_records = [r for r in document["records"] if r["inputs"]["env"]]
    for record in run_records:
        assert all(v.startswith("sha256:") for v in record["inputs"]["env"].values())
    assert "PATH" in json.dumps(document) and "/usr/local/sbin" not in json.dumps(document)


@pytest.mark.parametrize(
    ("text", "direction", "expected"),
    [
        ("host:5000/cache:main", "from", {"type": "registry", "ref": "host:5000/cache:main"}),
        ("type=registry,ref=host:5000/c", "to", {"ref": "host:5000/c:latest", "mode": "min"}),
        ("type=registry,ref=h:1/c:x,mode=max,ignore-error=true", "to",
         {"mode": "max", "ignore_error": True}),
        ("type=registry,ref=h:1/c,oci-mediatypes=true,image-manifest=true", "to", {"mode": "min"}),
        ("type=local,dest=/tmp/c,tag=v2", "to", {"dest": "/tmp/c", "tag": "v2"}),
        ("type=local,src=/tmp/c,digest=sha256:" + "a" * 64, "from", {"digest": "sha256:" + "a" * 64}),
        ('type=local,"src=/tmp/a,b"', "from", {"src": "/tmp/a,b"}),
        ("TYPE=inline", "to", {"type": "inline"}),
    ],
)  # fmt: skip
def test_parse_cache_option(text: str, direction: str, expected: dict[str, object]) -> None:
    spec = parse_cache_option(text, direction=direction)  # type: ignore[arg-type]
    for key, value in expected.items():
        assert getattr(spec, key) == value


@pytest.mark.parametrize(
    ("text", "direction", "message"),
    [
        ("type=gha", "from", "unsupported cache type 'gha'"),
        ("type=s3,region=x", "to", "unsupported cache type 's3'"),
        ("type=registry,ref=h:1/c,mode=all", "to", "mode must be min or max"),
        ("type=inline,mode=max", "to", "only mode=min"),
        ("type=inline", "from", "can only be exported"),
        ("type=registry", "from", "needs ref="),
        ("type=local", "to", "needs dest="),
        ("type=local,dest=/x", "from", "unknown option 'dest'"),
        ("type=registry,ref=h:1/c,mdoe=max", "to", "unknown option 'mdoe'"),
        ("type=registry,ref=h:1/c@sha256:" + "a" * 64, "to", "cannot export to a digest"),
        ("type=registry,ref=UPPER/Case", "from", "lowercase"),
        ("type=registry,ref=h:1/c,ignore-error=maybe", "to", "expected true or false"),
        ("", "to", "empty value"),
    ],
)
def test_parse_cache_option_errors(text: str, direction: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse_cache_option(text, direction=direction)  # type: ignore[arg-type]


def test_export_failure_with_ignore_error_is_a_warning(
    machine_a: tuple[Store, Path, SolveResult, list[str]],
) -> None:
    store_a, _, result_a, _ = machine_a
    host = f"127.0.0.1:{free_port()}"
    spec = parse_cache_option(f"type=registry,ref={host}/c,ignore-error=true", direction="to")
    lines = export_cache(store_a, spec, result_a.used, retry=FAST_RETRY)
    assert lines[-1].startswith(f"WARNING: exporting cache to registry {host}/c:latest failed")
    spec = parse_cache_option(f"type=registry,ref={host}/c", direction="to")
    with pytest.raises(Exception) as info:
        export_cache(store_a, spec, result_a.used, retry=FAST_RETRY)
    assert info.type.__module__.startswith("builder.")


def test_local_export_keeps_other_tags(
    machine_a: tuple[Store, Path, SolveResult, list[str]], tmp_path: Path
) -> None:
    store_a, _, result_a, _ = machine_a
    cache_dir = tmp_path / "cache"
    for tag in ("one", "two", "one"):
        _export(store_a, f"type=local,dest={cache_dir},tag={tag}", result_a)
    index = json.loads((cache_dir / "index.json").read_text())
    tags = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert sorted(tags) == ["one", "two"]
    assert not [p for p in os.listdir(cache_dir) if p.startswith(".")]


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_layer_check_hashes_the_uncompressed_stream(compression: str) -> None:
    import gzip
    import io

    import zstandard

    from builder.errors import LayerError
    from builder.solve.cache.layers import LayerCheck

    tar = os.urandom(300_000) * 4  # compressible, several chunks
    half = len(tar) // 2
    if compression == "gzip":  # two members, as pigz or concatenation write
        blob = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    elif compression == "zstd":  # two frames
        blob = zstandard.compress(tar[:half]) + zstandard.compress(tar[half:])
    else:
        blob = tar
    layer = Descriptor("application/octet-stream", sha256_digest(blob), len(blob))
    out = io.BytesIO()
    check = LayerCheck(out, layer, compression, "layer")
    for start in range(0, len(blob), 65_000):
        check.write(blob[start : start + 65_000])
    check.verify(sha256_digest(tar))
    assert out.getvalue() == blob

    check = LayerCheck(io.BytesIO(), layer, compression, "layer")
    check.write(blob)
    with pytest.raises(LayerError, match="diff_id"):
        check.verify(sha256_digest(b"something else"))
    garbage = b"\x1f\x8b" + b"garbage" * 50 if compression != "none" else b"x"
    check = LayerCheck(io.BytesIO(), layer, compression, "layer")
    check.write(garbage)
    with pytest.raises(ImageError, match="digest mismatch"):  # the digest is checked first
        check.verify(sha256_digest(tar))
    if compression != "none":  # the right bytes, but not the compression the record claims
        named = Descriptor(layer.media_type, sha256_digest(garbage), len(garbage))
        check = LayerCheck(io.BytesIO(), named, compression, "layer")
        check.write(garbage)
        with pytest.raises(LayerError, match=f"not a valid {compression} stream"):
            check.verify(sha256_digest(tar))
