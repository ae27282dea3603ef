"""`pybuild build -o/--push` outputs: parsing buildx's syntax, and each output for real.

The image under test is busybox (imported) plus a hand-made second layer
that whites out etc/group and adds a text file, a hard link to it, a setuid
file and a file owned by 1000:1000. Archives are read back with skopeo and
umoci, pushes go to a real docker-registry.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import pytest

from builder.errors import ImageError, UsageError
from builder.export.outputs import (
    OutputSpec,
    build_metadata,
    export_outputs,
    parse_output,
    parse_outputs,
    write_metadata_file,
)
from builder.image import mediatypes
from builder.image.digest import sha256_digest
from builder.image.model import Descriptor, History, Manifest
from tests.conftest import require_tool
from tests.export.conftest import CREATED, run
from tests.registry_server import start_registry

HELLO = b"hello from the second layer\n"

# --- parsing ---------------------------------------------------------------------------------

APP = "docker.io/library/app:1"
LOCAL_B = "localhost:5000/b:2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("out", OutputSpec("local", dest="out")),
        ("./out/dir", OutputSpec("local", dest="./out/dir")),
        ("dest=out", OutputSpec("local", dest="dest=out")),  # buildx: no type= prefix, one field
        ("-", OutputSpec("tar", dest="-")),
        ("type=local,dest=out", OutputSpec("local", dest="out")),
        ("TYPE=local, DEST=out", OutputSpec("local", dest="out")),  # keys: trimmed, any case
        ("type=tar", OutputSpec("tar", dest="-")),
        ("type=tar,dest=rootfs.tar", OutputSpec("tar", dest="rootfs.tar")),
        ("type=oci", OutputSpec("oci", dest="-")),
        ("type=oci,dest=img.tar", OutputSpec("oci", dest="img.tar")),
        ("type=oci,dest=layout,tar=false", OutputSpec("oci", dest="layout", tar=False)),
        ("type=docker", OutputSpec("docker")),
        ("type=docker,dest=-", OutputSpec("docker", dest="-")),
        ("type=docker,dest=img.tar,name=app:1", OutputSpec("docker", dest="img.tar", names=(APP,))),
        ("type=image", OutputSpec("image")),
        ("type=image,push=false", OutputSpec("image")),
        (
            f'type=image,"name=app:1,{LOCAL_B}",push=true',
            OutputSpec("image", names=(APP, LOCAL_B), push=True),
        ),
        ("type=image,name=app:1,push=1", OutputSpec("image", names=(APP,), push=True)),
        (f"type=registry,name={LOCAL_B}", OutputSpec("image", names=(LOCAL_B,), push=True)),
        (
            f"type=registry,name={LOCAL_B},push=false",
            OutputSpec("image", names=(LOCAL_B,), push=True),
        ),
        (
            f"type=registry,name={LOCAL_B},registry.insecure=true",
            OutputSpec("image", names=(LOCAL_B,), push=True, insecure=True),
        ),
        (
            "type=image,compression=zstd,oci-mediatypes=true",
            OutputSpec("image", ignored=("compression",)),
        ),
        (
            "type=registry,name=app:1,oci-mediatypes=false",
            OutputSpec("image", names=(APP,), push=True, oci_mediatypes=False),
        ),
        (
            "type=oci,dest=x.tar,oci-mediatypes=0",
            OutputSpec("oci", dest="x.tar", oci_mediatypes=False),
        ),
        (
            "type=local,dest=out,platform-split=false",
            OutputSpec("local", dest="out", ignored=("platform-split",)),
        ),
        ("type=cacheonly", OutputSpec("cacheonly")),
        # pybuild always clamps layer mtimes to SOURCE_DATE_EPOCH: no warning
        ("type=image,rewrite-timestamp=true", OutputSpec("image")),
        ("type=oci,dest=x,rewrite-timestamp=1", OutputSpec("oci", dest="x")),
        (
            "type=tar,rewrite-timestamp=true",
            OutputSpec("tar", dest="-", ignored=("rewrite-timestamp",)),
        ),
    ],
)
def test_parse_output(text: str, expected: OutputSpec) -> None:
    spec = parse_output(text)
    assert spec == OutputSpec(**{**expected.__dict__, "text": text})


def test_ignored_options_are_named_in_warnings() -> None:
    spec = parse_output("type=image,compression=zstd")
    assert spec.warnings == [
        'output "type=image,compression=zstd": option "compression" is not supported '
        "by pybuild and is ignored"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the value is empty"),
        ("type=bogus", 'unknown type "bogus"'),
        ("type=Local,dest=x", 'unknown type "Local"'),
        ("dest=out,push=true", "type is required"),
        ("type=local", "dest is required for the local exporter"),
        ("type=local,dest=", "dest is required for the local exporter"),
        ("type=local,dest=-", "dest cannot be stdout for the local exporter"),
        ("type=oci,tar=false", "dest is required for an OCI layout directory"),
        ("type=docker,tar=false,dest=-", "dest cannot be stdout"),
        ("type=image,push=maybe", "push='maybe' is not a boolean"),
        ("type=oci,tar=yes,dest=x", "tar='yes' is not a boolean"),
        ("type=image,name=Bad:Name", "name 'Bad:Name'"),
        ("type=image,novalue", "'novalue' is not KEY=VALUE"),
        ("out,dir", "'out' is not KEY=VALUE"),
        ('type=image,"name=a', "unexpected end of data"),
        ("type=image,push-by-digest=true", "push-by-digest is not supported"),
        ("type=image,rewrite-timestamp=yes", "rewrite-timestamp='yes' is not a boolean"),
    ],
)
def test_bad_outputs_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_output(text)
    assert message in info.value.message
    assert info.value.exit_code == 2
    if text:
        assert f'"{text}"' in info.value.message


def test_no_output_means_the_image_in_the_store() -> None:
    assert parse_outputs([], push=False, tags=[]) == [OutputSpec("image", text="type=image")]
    assert parse_outputs([""], push=False, tags=["app:1"])[0].names == (APP,)


def test_push_needs_a_name() -> None:
    with pytest.raises(UsageError, match="tag is needed when pushing to registry"):
        parse_outputs([], push=True, tags=[])
    with pytest.raises(UsageError, match="tag is needed when pushing to registry"):
        parse_outputs(["type=registry"], push=False, tags=[])


def test_push_turns_image_outputs_into_pushes_or_adds_one() -> None:
    [spec] = parse_outputs([], push=True, tags=[LOCAL_B])
    assert (spec.type, spec.push, spec.names) == ("image", True, (LOCAL_B,))
    [spec] = parse_outputs(["type=image,name=app:1"], push=True, tags=[])
    assert (spec.push, spec.names) == (True, (APP,))
    local, image = parse_outputs(["type=local,dest=out"], push=True, tags=[LOCAL_B])
    assert local.type == "local" and not local.push
    assert (image.type, image.push, image.names) == ("image", True, (LOCAL_B,))


def test_tags_replace_names_of_image_outputs_only() -> None:
    specs = parse_outputs(
        ["type=image,name=x:1", "type=oci,dest=o.tar,name=x:1", "type=tar,dest=t.tar"],
        push=False,
        tags=["app:1", "app:1"],
    )
    assert [s.names for s in specs] == [(APP,), (APP,), ()]


def test_bad_tag_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid tag 'App'"):
        parse_outputs([], push=False, tags=["App"])


def test_one_stdout_and_no_repeats() -> None:
    with pytest.raises(UsageError, match="multiple outputs configured to write to stdout"):
        parse_outputs(["-", "type=oci"], push=False, tags=[])
    assert len(parse_outputs(["type=tar", "type=tar"], push=False, tags=[])) == 1


def test_destinations_of_the_wrong_kind_are_refused_before_the_build(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"destination directory .* is a file"):
        parse_outputs([str(tmp_path / "file")], push=False, tags=[])
    with pytest.raises(UsageError, match=r"destination file .* is a directory"):
        parse_outputs([f"type=oci,dest={tmp_path}"], push=False, tags=[])
    with pytest.raises(UsageError, match=r"destination directory .* is a file"):
        parse_outputs([f"type=oci,tar=false,dest={tmp_path / 'file'}"], push=False, tags=[])


# --- the image under test --------------------------------------------------------------------


def _layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, kind: bytes, mode: int, data: bytes = b"", **extra: object) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.size = kind, mode, 1_700_000_000, len(data)
            for key, value in extra.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("bin/suid", tarfile.REGTYPE, 0o4755, b"#!/bin/sh\n")
        add("etc/.wh.group", tarfile.REGTYPE, 0)
        add("hello.txt", tarfile.REGTYPE, 0o644, HELLO)
        add("hello-link", tarfile.LNKTYPE, 0o644, linkname="hello.txt")
        add("home/lambda", tarfile.DIRTYPE, 0o750, uid=1000, gid=1000)
        add("home/lambda/note", tarfile.REGTYPE, 0o600, b"mine\n", uid=1000, gid=1000)
        add("opt/implicit/file", tarfile.REGTYPE, 0o644, b"no parent entries\n")
    return buf.getvalue()


@pytest.fixture
def app_image(store, busybox_image):
    """busybox + one gzip layer (whiteout, new files); stored without a name."""
    plain = _layer_tar()
    blob = gzip.compress(plain, mtime=0)
    layer = Descriptor(mediatypes.OCI_LAYER_GZIP, store.put_blob(blob), len(blob))
    config = store.config(busybox_image).with_layer(
        sha256_digest(plain), History(created=CREATED, created_by="test layer")
    )
    config_bytes = config.to_bytes()
    base = store.manifest(busybox_image)
    manifest = Manifest(
        config=Descriptor(mediatypes.OCI_CONFIG, store.put_blob(config_bytes), len(config_bytes)),
        layers=(*base.layers, layer),
        media_type=mediatypes.OCI_MANIFEST,
    )
    return store.add_image(store.put_blob(manifest.to_bytes()))


def export(store, record, outputs: list[str], *, tags=(), push=False, stdout=None, **kw):
    specs = parse_outputs(outputs, push=push, tags=list(tags))
    out = stdout if stdout is not None else io.BytesIO()
    return export_outputs(store, record, specs, tags=list(tags), stdout=out, **kw)


def check_rootfs(root: Path, *, ours: bool = True) -> None:
    """The flattened tree: both layers applied, the whiteout too, metadata kept (as root)."""
    assert (root / "hello.txt").read_bytes() == HELLO
    assert not (root / "etc" / "group").exists()
    assert (root / "etc" / "passwd").read_text().startswith("root:x:0:0")
    assert os.readlink(root / "bin" / "sh") == "busybox"
    assert os.path.samefile(root / "hello.txt", root / "hello-link")
    suid = os.lstat(root / "bin" / "suid")
    assert stat.S_IMODE(suid.st_mode) == 0o4755
    note = os.lstat(root / "home" / "lambda" / "note")
    assert (note.st_uid, note.st_gid, stat.S_IMODE(note.st_mode)) == (1000, 1000, 0o600)
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    if not ours:
        return  # another tool unpacked it: directory mtimes are its own
    # directory mtimes: from the layers, never the clock of the export
    assert os.lstat(root / "home" / "lambda").st_mtime == 1_700_000_000
    for changed_below in ("bin", "etc", "home", "opt", "opt/implicit"):
        assert os.lstat(root / changed_below).st_mtime == 0, changed_below


def no_temp_files(path: Path) -> bool:
    return not [p for p in path.rglob(".*.tmp-*")]


# --- tar and local ---------------------------------------------------------------------------


def test_tar_to_stdout_is_the_flattened_filesystem(store, app_image, tmp_path: Path) -> None:
    stdout = io.BytesIO()
    lines = export(store, app_image, ["-"], stdout=stdout)
    assert lines == ["exporting to client tarball", "sending tarball to stdout"]
    with tarfile.open(fileobj=io.BytesIO(stdout.getvalue())) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        names = [m.name.rstrip("/") for m in tar.getmembers()]
        assert names == sorted(names, key=os.fsencode)
        assert tar.extractfile("hello.txt").read() == HELLO
        assert "etc/group" not in members and "etc/passwd" in members
        assert not any(".wh." in name for name in names)
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["bin/suid"].mode == 0o4755
        assert (members["home/lambda/note"].uid, members["home/lambda/note"].gid) == (1000, 1000)
        link = members["hello-link"] if members["hello-link"].islnk() else members["hello.txt"]
        assert link.islnk()
        tar.extractall(tmp_path / "x", filter="fully_trusted")
    check_rootfs(tmp_path / "x")
    again = io.BytesIO()
    export(store, app_image, ["type=tar"], stdout=again)
    assert again.getvalue() == stdout.getvalue()  # deterministic
    assert not list((Path(store.root) / "tmp").iterdir())  # the flattened tree is gone


def test_tar_to_a_file(store, app_image, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "rootfs.tar"
    export(store, app_image, [f"type=tar,dest={dest}"])
    with tarfile.open(dest) as tar:
        assert tar.extractfile("hello.txt").read() == HELLO
    assert no_temp_files(tmp_path)


def test_local_into_a_new_directory(store, app_image, tmp_path: Path) -> None:
    dest = tmp_path / "a" / "out"
    lines = export(store, app_image, [str(dest)])
    assert lines == ["exporting to client directory", f"copying files to {dest}"]
    check_rootfs(dest)


def test_local_merges_into_a_directory_and_never_follows_its_symlinks(
    store, app_image, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("untouched")
    dest = tmp_path / "out"
    dest.mkdir(mode=0o711)
    os.chmod(dest, 0o711)
    (dest / "mine.txt").write_text("the user's file")
    (dest / "etc").symlink_to(outside)  # the image has etc/: must not write through this
    (dest / "home").symlink_to(outside)
    (dest / "hello.txt").symlink_to(outside / "keep")  # replaced, not followed
    export(store, app_image, [f"type=local,dest={dest}"])
    check_rootfs(dest)
    assert (dest / "mine.txt").read_text() == "the user's file"
    assert not (dest / "etc").is_symlink() and (dest / "etc" / "passwd").is_file()
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert (outside / "keep").read_text() == "untouched"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o711  # dest itself is left alone


def test_local_on_another_filesystem_is_streamed(store, app_image) -> None:
    """/dev/shm is a tmpfs: the tree cannot be renamed there, so it is copied through a tar."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.fail("/dev/shm is missing: this test needs a second filesystem")
    work = Path(tempfile.mkdtemp(dir=shm, prefix="pybuild-test-"))
    try:
        assert os.stat(work).st_dev != os.stat(store.root).st_dev
        export(store, app_image, [str(work / "out")])
        check_rootfs(work / "out")
    finally:
        shutil.rmtree(work)


def test_local_through_a_symlinked_destination(store, app_image, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    export(store, app_image, [str(tmp_path / "link")])
    assert (tmp_path / "link").is_symlink()
    check_rootfs(real)


# --- image archives --------------------------------------------------------------------------


def test_docker_archive_for_docker_load(store, app_image, tmp_path: Path) -> None:
    require_tool("skopeo")
    dest = tmp_path / "app.tar"
    lines = export(store, app_image, [f"type=docker,dest={dest}"], tags=["app:1"])
    assert lines == ["exporting to docker image format", f"sending tarball to {dest}"]
    info = json.loads(run("skopeo", "inspect", f"docker-archive:{dest}").stdout)
    assert len(info["Layers"]) == 2
    config = json.loads(run("skopeo", "inspect", "--config", f"docker-archive:{dest}").stdout)
    assert config["history"][-1]["created_by"] == "test layer"
    with tarfile.open(dest) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest[0]["RepoTags"] == ["app:1"]
    assert no_temp_files(tmp_path)


def test_docker_archive_to_stdout(store, app_image) -> None:
    stdout = io.BytesIO()
    export(store, app_image, ["type=docker,dest=-,name=app:2"], stdout=stdout)
    with tarfile.open(fileobj=io.BytesIO(stdout.getvalue())) as tar:
        assert json.loads(tar.extractfile("manifest.json").read())[0]["RepoTags"] == ["app:2"]


def test_docker_without_dest_needs_an_engine_before_exporting(store, app_image, tmp_path) -> None:
    """`type=docker` without dest is `--load` (tests/export/test_docker_engine.py)."""
    from builder.errors import EngineUnavailableError

    host = f"unix://{tmp_path}/none.sock"
    with pytest.raises(EngineUnavailableError, match=f"no Docker engine at {host}"):
        export(store, app_image, ["type=docker"], tags=["app:3"], environ={"DOCKER_HOST": host})
    assert store.find("app:3") is None  # found missing before anything was exported


def test_oci_archive_read_by_skopeo(store, app_image, tmp_path: Path) -> None:
    require_tool("skopeo")
    dest = tmp_path / "app-oci.tar"
    export(store, app_image, [f"type=oci,dest={dest}"], tags=["app:1"])
    raw = run("skopeo", "inspect", "--raw", f"oci-archive:{dest}:1").stdout
    assert sha256_digest(raw.encode()) == app_image.manifest_digest


def test_oci_layout_directory_unpacked_by_umoci(store, app_image, tmp_path: Path) -> None:
    require_tool("umoci")
    layout = tmp_path / "layout"
    lines = export(store, app_image, [f"type=oci,tar=false,dest={layout}"], tags=["app:1"])
    assert lines[-1] == f"writing oci image directory {layout}"
    assert run("umoci", "ls", "--layout", layout).stdout.split() == ["1"]
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{layout}:1", bundle)
    check_rootfs(bundle / "rootfs", ours=False)


def test_docker_directory_is_an_oci_layout_with_manifest_json(
    store, app_image, tmp_path: Path
) -> None:
    require_tool("skopeo")
    dest = tmp_path / "docker-dir"
    export(store, app_image, [f"type=docker,tar=false,dest={dest}"], tags=["app:1"])
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest[0]["RepoTags"] == ["app:1"] and len(manifest[0]["Layers"]) == 2
    raw = run("skopeo", "inspect", "--raw", f"oci:{dest}:1").stdout
    assert sha256_digest(raw.encode()) == app_image.manifest_digest


def test_stdout_on_a_terminal_is_refused(store, app_image) -> None:
    class Terminal(io.BytesIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(UsageError, match="refusing to write to console"):
        export(store, app_image, ["type=oci"], stdout=Terminal())


@pytest.mark.parametrize("output", ["-", "type=docker,dest=-", "type=oci"])
def test_a_closed_stdout_is_a_clear_error(store, app_image, output: str) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    with (
        open(write_fd, "wb", buffering=0) as stdout,
        pytest.raises(ImageError, match="cannot write the output to stdout: the reader went"),
    ):
        export(store, app_image, [output], stdout=stdout)


def test_push_without_a_name_is_refused_at_export_too(store, app_image) -> None:
    spec = parse_output("type=registry")
    with pytest.raises(UsageError, match="tag is needed when pushing to registry"):
        export_outputs(store, app_image, [spec], tags=[], stdout=io.BytesIO())


# --- image and registry ----------------------------------------------------------------------


def test_image_output_names_the_image(store, app_image) -> None:
    lines = export(store, app_image, ['type=image,"name=app:1,app:latest"'])
    assert lines[1:] == [
        "naming to docker.io/library/app:1",
        "naming to docker.io/library/app:latest",
    ]
    assert store.resolve("app").manifest_digest == app_image.manifest_digest


def test_push_to_a_registry(store, app_image, tmp_path: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        first = f"{registry.host}/team/app:1"
        second = f"{registry.host}/team/app:2"
        lines = export(store, app_image, [], tags=[first], push=True)
        lines += export(store, app_image, [f"type=registry,name={second},registry.insecure=true"])
        digest = app_image.manifest_digest
        assert f"pushing {first} with digest {digest}" in lines
        assert f"pushing {second} with digest {digest}" in lines
        for tag in ("1", "2"):
            request = urllib.request.Request(
                f"{registry.url}/v2/team/app/manifests/{tag}",
                headers={"Accept": mediatypes.OCI_MANIFEST},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Docker-Content-Digest"] == digest
                assert sha256_digest(response.read()) == digest
    record = store.resolve(first)
    assert f"{registry.host}/team/app@{digest}" in record.repo_digests


# --- metadata file ---------------------------------------------------------------------------


def test_metadata_file_has_buildx_keys(store, app_image, tmp_path: Path) -> None:
    record = store.add_image(app_image.manifest_digest, names=["app:1", "localhost:5000/app:1"])
    path = tmp_path / "meta" / "metadata.json"
    write_metadata_file(path, record, store=store)
    text = path.read_text()
    assert text.startswith('{\n  "containerimage.config.digest"')
    assert json.loads(text) == {
        "containerimage.config.digest": record.config_digest,
        "containerimage.descriptor": {
            "annotations": {
                "config.digest": record.config_digest,
                "org.opencontainers.image.created": CREATED,
            },
            "digest": record.manifest_digest,
            "mediaType": mediatypes.OCI_MANIFEST,
            "size": store.blob_size(record.manifest_digest),
        },
        "containerimage.digest": record.manifest_digest,
        "image.name": "docker.io/library/app:1,localhost:5000/app:1",
    }
    unnamed = build_metadata(store, app_image, names=[])
    assert "image.name" not in unnamed
