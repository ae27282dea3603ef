"""The outputs of `pybuild build`: what `-o/--output` and `--push` ask for, done.

    specs = parse_outputs(args.output, push=args.push, tags=args.tag)   # before the build
    for spec in specs: show(spec.warnings)
    record = ...build...
    lines = export_outputs(store, record, specs, tags=args.tag, stdout=sys.stdout.buffer)
    write_metadata_file(path, record, store=store)                      # --metadata-file

Per output type (see `output_spec` for the syntax):

- image (and docker without dest): the image's names (`-t`, else `name=`)
  are added to its store record; with push, it is pushed under each name
  (`builder.registry.push.push`), plain HTTP when `registry.insecure=true`
  or the registry is in `insecure_registries`;
- docker without dest (`--load`): also streamed as a docker-archive to a
  Docker engine's `POST /images/load` (`docker_engine`: DOCKER_HOST, the
  default socket, or Podman's), found before anything is exported;
- docker / oci: a docker-archive / OCI archive, written to a temp file next
  to `dest` and renamed, or streamed to stdout for `dest=-`; `tar=false`
  writes a directory (an OCI layout; for docker, plus `manifest.json`);
- tar / local: the flattened root filesystem (`rootfs_export`).

stdout is refused when it is a terminal, as buildx does. Nothing is shown
while exporting; the returned lines say what was done, for the progress
display.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from builder.errors import ImageError, UsageError
from builder.export.atomic_file import write_atomically
from builder.export.metadata_file import build_metadata, write_metadata_file
from builder.export.output_spec import (
    OUTPUT_TYPES,
    OutputSpec,
    check_destinations,
    parse_output,
    parse_outputs,
    tag_names,
)
from builder.image.reference import parse_reference

if TYPE_CHECKING:
    from builder.export.docker_engine import EngineAddress
    from builder.export.selection import ImageSelection
    from builder.registry.progress import Progress
    from builder.store import ImageRecord, IndexRecord, Store

    Built = ImageRecord | IndexRecord  #: one image, or a multi-platform one

__all__ = [
    "OUTPUT_TYPES",
    "OutputSpec",
    "build_metadata",
    "export_outputs",
    "parse_output",
    "parse_outputs",
    "write_metadata_file",
]


def export_outputs(
    store: Store,
    record: Built,
    specs: Sequence[OutputSpec],
    *,
    tags: Sequence[str],
    stdout: BinaryIO,
    push_progress: Progress | None = None,
    insecure_registries: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Export `record` to every output of `specs`, in order; return lines saying what was done.

    `record` is an image, or an index record for a multi-platform build: the
    store and registries get the index, an OCI archive holds it, and `local`
    and `tar` outputs get one subdirectory per platform (`linux_arm64/`).

    `tags` (the `-t` values) name the image in image, docker and oci outputs,
    replacing their `name=`. `environ` (default: os.environ) says where the
    Docker engine of `--load` is. Raises UsageError for a destination of the
    wrong kind or stdout on a terminal, EngineError when `--load` has no
    engine (before anything is written), ImageError when writing fails,
    RegistryError when a push fails, EngineError when the engine fails the load.
    """
    names_from_tags = tag_names(tags)
    planned: list[tuple[OutputSpec, tuple[str, ...]]] = []
    for spec in specs:
        named = names_from_tags and spec.type in ("image", "docker", "oci")
        names = names_from_tags if named else spec.names
        if spec.to_stdout and _is_terminal(stdout):
            raise UsageError(
                f"dest file is required for {spec.type} exporter. refusing to write to console",
                hint="redirect stdout to a file or pipe, or give dest=FILE",
            )
        if spec.push and not names:
            raise UsageError(
                "tag is needed when pushing to registry",
                hint="name the image with -t REGISTRY/REPOSITORY:TAG (or name= in the output)",
            )
        planned.append((spec, names))
    check_destinations(specs)
    engine = None
    if any(spec.to_engine for spec in specs):
        from builder.export.docker_engine import find_engine

        engine = find_engine(environ)
    lines: list[str] = []
    for spec, names in planned:
        lines.extend(
            _export(store, record, spec, names, stdout, push_progress, tuple(insecure_registries))
        )
        if spec.to_engine:
            assert engine is not None and not _is_index(record)
            lines.extend(_to_engine(store, cast("ImageRecord", record), names, engine))
    return lines


def _is_index(record: Built) -> bool:
    from builder.store import IndexRecord

    return isinstance(record, IndexRecord)


def _platforms(store: Store, record: Built) -> list[tuple[str, ImageRecord]]:
    """(platform directory, image) of each platform of a multi-platform result."""
    from builder.export.multiplatform import platform_dir

    digest = cast("IndexRecord", record).digest
    return [(platform_dir(p), r) for p, r in store.platforms_of(digest) or []]


def _is_terminal(stream: BinaryIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _export(
    store: Store,
    record: Built,
    spec: OutputSpec,
    names: tuple[str, ...],
    stdout: BinaryIO,
    push_progress: Progress | None,
    insecure_registries: tuple[str, ...],
) -> list[str]:
    if spec.type == "cacheonly":
        return []
    if spec.into_store:
        return _to_store(store, record, spec, names, push_progress, insecure_registries)
    if spec.type in ("docker", "oci"):
        return _image_archive(store, record, spec, names, stdout)
    if spec.type == "tar":
        if _is_index(record):
            return _platforms_tar(store, _platforms(store, record), spec, stdout)
        return _rootfs_tar(store, cast("ImageRecord", record), spec, stdout)
    if spec.type == "local":
        if _is_index(record):
            return _platforms_dir(store, _platforms(store, record), spec)
        return _rootfs_dir(store, cast("ImageRecord", record), spec)
    raise UsageError(f'output "{spec.text}": unknown type "{spec.type}"')


def _to_engine(
    store: Store, record: ImageRecord, names: tuple[str, ...], engine: EngineAddress
) -> list[str]:
    """`--load`: stream a docker-archive of the image (tagged `names`) into the engine."""
    from builder.export.docker_archive import save_docker_archive
    from builder.export.docker_engine import load_image
    from builder.export.selection import ImageSelection

    selections = [ImageSelection(record, list(names))]
    messages = load_image(engine, lambda out: save_docker_archive(store, selections, out))
    loaded = "; ".join(messages)
    return [
        "exporting to docker image format",
        f"importing to docker at {engine.url}" + (f" ({loaded})" if loaded else ""),
    ]


def _to_store(
    store: Store,
    record: Built,
    spec: OutputSpec,
    names: tuple[str, ...],
    push_progress: Progress | None,
    insecure_registries: tuple[str, ...],
) -> list[str]:
    from builder.store import IndexRecord

    if isinstance(record, IndexRecord):
        lines = [f"writing image index {record.digest}"]
        if names:
            store.add_index(record.digest, names=names)
    else:
        lines = [f"writing image {record.id}"]
        if names:
            store.add_image(record.manifest_digest, names=names)
    lines.extend(f"naming to {name}" for name in names)
    if not spec.push:
        return lines
    from builder.registry.push import push

    for name in names:
        ref = parse_reference(name)
        insecure = spec.insecure or ref.registry in insecure_registries
        digest = push(store, name, progress=push_progress, insecure=insecure)
        lines.append(f"pushing {ref.familiar} with digest {digest}")
    return lines


def _image_archive(
    store: Store,
    record: Built,
    spec: OutputSpec,
    names: tuple[str, ...],
    stdout: BinaryIO,
) -> list[str]:
    from builder.export.docker_archive import save_docker_archive
    from builder.export.oci_layout import save_oci
    from builder.export.selection import ImageSelection
    from builder.store import IndexRecord

    if isinstance(record, IndexRecord):
        main = store.resolve(record.digest)
        selections = [ImageSelection(main, list(names), index=record)]
    else:
        selections = [ImageSelection(record, list(names))]
    lines = [f"exporting to {spec.type} image format"]
    assert spec.dest is not None  # docker without dest goes to the store
    if not spec.tar:
        dest = Path(spec.dest)
        save_oci(store, selections, dest, tar=False)
        if spec.type == "docker":
            _add_docker_manifest(store, selections, dest)
        lines.append(f"writing {spec.type} image directory {dest}")
        return lines
    write: Callable[[BinaryIO], None]
    if spec.type == "docker":

        def write(out: BinaryIO) -> None:
            save_docker_archive(store, selections, out)
    else:

        def write(out: BinaryIO) -> None:
            save_oci(store, selections, out, tar=True)

    lines.append(_write_output(spec, write, stdout, "tarball"))
    return lines


def _add_docker_manifest(store: Store, selections: list[ImageSelection], dest: Path) -> None:
    """Make an OCI layout directory a docker-archive one too: `manifest.json`, `repositories`."""
    from builder.export.docker_archive import (
        MANIFEST_FILE,
        REPOSITORIES_FILE,
        manifest_json,
        repositories_json,
    )

    def document(obj: object) -> Callable[[BinaryIO], None]:
        data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

        def write(out: BinaryIO) -> None:
            out.write(data)

        return write

    write_atomically(dest / MANIFEST_FILE, document(manifest_json(store, selections)))
    repositories = repositories_json(store, selections)
    if repositories:
        write_atomically(dest / REPOSITORIES_FILE, document(repositories))


def _write_output(
    spec: OutputSpec, write: Callable[[BinaryIO], None], stdout: BinaryIO, what: str
) -> str:
    """Write a file output to stdout (`-`) or atomically to its path; say where it went.

    A failed write (disk full, a closed pipe) is an ImageError naming the
    destination, never an OSError that a writer could mistake for a read error.
    """
    if spec.to_stdout:
        sink = _OutputWriter(stdout, "stdout")
        write(cast(BinaryIO, sink))
        sink.flush()
        return f"sending {what} to stdout"
    assert spec.dest is not None
    where = spec.dest
    write_atomically(Path(where), lambda out: write(cast(BinaryIO, _OutputWriter(out, where))))
    return f"sending {what} to {where}"


class _OutputWriter:
    """A write-only view of an output stream whose OSErrors become ImageErrors."""

    def __init__(self, out: BinaryIO, where: str) -> None:
        self._out = out
        self._where = where

    def _failed(self, err: OSError) -> ImageError:
        if isinstance(err, BrokenPipeError):
            return ImageError(f"cannot write the output to {self._where}: the reader went away")
        return ImageError(f"cannot write the output to {self._where}: {err.strerror or err}")

    def write(self, data: bytes) -> int:
        try:
            return self._out.write(data)
        except OSError as err:
            raise self._failed(err) from None

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as err:
            raise self._failed(err) from None


def _rootfs_tar(store: Store, record: ImageRecord, spec: OutputSpec, stdout: BinaryIO) -> list[str]:
    from builder.export.rootfs_export import flattened_rootfs, write_rootfs_tar

    with flattened_rootfs(store, record) as tree:
        _add_attestation_files(store, record, tree)
        line = _write_output(spec, lambda out: write_rootfs_tar(tree, out), stdout, "tarball")
    return ["exporting to client tarball", line]


def _platforms_tar(
    store: Store, images: list[tuple[str, ImageRecord]], spec: OutputSpec, stdout: BinaryIO
) -> list[str]:
    """One tar holding each platform's root filesystem under `linux_amd64/`, ..."""
    import os
    from contextlib import ExitStack

    from builder.export.rootfs_export import flattened_rootfs, write_rootfs_tar

    with ExitStack() as stack:
        top = store.temp_dir("platforms")
        stack.callback(lambda: _remove_quietly(top))
        for directory, record in images:
            tree = stack.enter_context(flattened_rootfs(store, record))
            _add_attestation_files(store, record, tree)
            os.rename(tree, top / directory)
            # give the tree back before flattened_rootfs cleans it up
            stack.callback(os.rename, top / directory, tree)
        os.chmod(top, 0o755)
        line = _write_output(spec, lambda out: write_rootfs_tar(top, out), stdout, "tarball")
    return ["exporting to client tarball", line]


def _remove_quietly(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _platforms_dir(
    store: Store, images: list[tuple[str, ImageRecord]], spec: OutputSpec
) -> list[str]:
    """Each platform's root filesystem into `dest/linux_amd64/`, ..., as BuildKit writes them
    (with that platform's attestation files at the top of its directory)."""
    from builder.export.rootfs_export import flattened_rootfs, write_rootfs_dir

    assert spec.dest is not None
    lines = ["exporting to client directory"]
    for directory, record in images:
        with flattened_rootfs(store, record) as tree:
            _add_attestation_files(store, record, tree)
            write_rootfs_dir(tree, Path(spec.dest) / directory)
        lines.append(f"copying files to {Path(spec.dest) / directory}")
    return lines


def _rootfs_dir(store: Store, record: ImageRecord, spec: OutputSpec) -> list[str]:
    from builder.export.rootfs_export import flattened_rootfs, write_rootfs_dir

    assert spec.dest is not None
    with flattened_rootfs(store, record) as tree:
        _add_attestation_files(store, record, tree)
        write_rootfs_dir(tree, Path(spec.dest))
    return ["exporting to client directory", f"copying files to {spec.dest}"]


def _add_attestation_files(store: Store, record: ImageRecord, tree: Path) -> None:
    """The image's attestations as files at the top of the tree, as BuildKit's local and tar
    exporters write them (`sbom.spdx.json`, `sbom-<stage>.spdx.json`, `provenance.json`);
    they replace a file of that name in the image."""
    if record.attestations is None:
        return
    from builder.attest.generate import attestation_files

    for name, data in attestation_files(store, record).items():
        path = tree / name
        if path.is_symlink() or path.exists():
            if path.is_dir() and not path.is_symlink():
                raise ImageError(f"cannot write {name}: the image has a directory /{name}")
            path.unlink()
        path.write_bytes(data)
        os.chmod(path, 0o644)
