"""Multi-platform builds as a user runs them: amd64 + arm64 from one command.

The arm64 base is Debian's busybox-static:arm64 (fixtures/base-images/
busybox-arm64.sh); its RUN steps run under qemu-user-static through
binfmt_misc (tests/install-deps.sh registers it). The registry is Debian's
docker-registry, read back with skopeo. The host is amd64, as in CI.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.image.platform import host_platform
from builder.runtime.emulation import BINFMT_DIR, find_emulator
from tests.cli.test_image_commands import ok, run
from tests.conftest import require_tool
from tests.registry_server import RegistryServer, start_registry

DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM busybox:latest AS tools
RUN echo "compiled on $(uname -m)" > /tool
FROM --platform=$BUILDPLATFORM busybox:latest AS cross
ARG TARGETARCH
RUN echo "built on $(uname -m) for $TARGETARCH" > /out
FROM busybox:latest
COPY --from=tools /tool /tool
COPY --from=cross /out /out
RUN uname -m > /arch
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with start_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture
def two_platforms(tmp_path: Path, busybox_rootfs_tar: Path, busybox_arm64_rootfs_tar: Path) -> Path:
    """A store whose busybox:latest names an amd64 and an arm64 image."""
    assert str(host_platform()) == "linux/amd64", "these tests expect an amd64 host"
    root = tmp_path / "store"
    ok(root, "import", "--platform", "linux/amd64", str(busybox_rootfs_tar), "busybox:latest")
    proc = run(
        root, "import", "--platform", "linux/arm64", str(busybox_arm64_rootfs_tar),
        "busybox:latest",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "added linux/arm64 to busybox:latest, which now has linux/amd64, linux/arm64" in (
        proc.stderr
    )
    return root


def _context(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _files_of_oci_image(layout: Path) -> dict[str, bytes]:
    """Regular files of the one image in an OCI layout (skopeo's output), layers applied."""
    index = json.loads((layout / "index.json").read_text())
    manifest = _blob_json(layout, index["manifests"][0]["digest"])
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        data = (layout / "blobs" / "sha256" / layer["digest"].split(":")[1]).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
            for member in tar:
                if member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    files[member.name.lstrip("./")] = extracted.read()
    return files


def _blob_json(layout: Path, digest: str) -> dict:
    return json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())


def test_emulation_is_registered_with_binfmt_misc() -> None:
    """install-deps.sh mounted binfmt_misc and enabled Debian's qemu-aarch64 handler."""
    emulator = find_emulator("linux/arm64")
    assert emulator.handler == "qemu-aarch64"
    assert "enabled" in (BINFMT_DIR / "qemu-aarch64").read_text().splitlines()
    assert emulator.fix_binary or Path(emulator.interpreter).exists()


def test_two_platforms_pushed_as_one_index(
    tmp_path: Path, two_platforms: Path, registry: RegistryServer
) -> None:
    skopeo = require_tool("skopeo")
    root = two_platforms
    name = f"{registry.host}/app:multi"
    proc = run(
        root, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
        "--push", "--insecure-registry", registry.host, "-t", name, str(_context(tmp_path)),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # every step says its platform; the BUILDPLATFORM stages run once, for the first
    assert re.search(r"#\d+ \[linux/arm64 stage-2 4/4\] RUN uname -m > /arch", proc.stderr)
    assert re.search(r"#\d+ \[linux/amd64 tools 2/2\] RUN echo", proc.stderr)
    tools_arm = re.search(r"#(\d+) \[linux/arm64 tools 2/2\] RUN echo", proc.stderr)
    assert tools_arm is not None
    assert f"#{tools_arm.group(1)} CACHED" in proc.stderr

    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    index = json.loads(raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    platforms = [(m["platform"]["os"], m["platform"]["architecture"]) for m in index["manifests"]]
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]

    found = {}
    for arch in ("amd64", "arm64"):
        layout = tmp_path / f"oci-{arch}"
        subprocess.run(
            [skopeo, "copy", "-q", "--src-tls-verify=false", "--override-arch", arch,
             f"docker://{name}", f"oci:{layout}:img"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        found[arch] = _files_of_oci_image(layout)
    assert found["amd64"]["arch"] == b"x86_64\n"
    assert found["arm64"]["arch"] == b"aarch64\n"
    # the cross-compilation stage ran natively for both targets
    assert found["amd64"]["out"] == b"built on x86_64 for amd64\n"
    assert found["arm64"]["out"] == b"built on x86_64 for arm64\n"
    assert found["arm64"]["tool"] == b"compiled on x86_64\n"

    # the store names both platforms with the one name
    listing = ok(root, "images", name)
    assert "linux/amd64,linux/arm64" in listing
    inspected = json.loads(ok(root, "inspect", name))[0]
    assert [m["Platform"] for m in inspected["Manifests"]] == ["linux/amd64", "linux/arm64"]
    assert inspected["Architecture"] == "amd64"  # the host's platform

    # a fresh store: one platform pulled, the other pulled by FROM when needed
    fresh = tmp_path / "fresh"
    ok(fresh, "pull", "-q", "--platform", "linux/arm64", name)
    assert ok(fresh, "inspect", "--format", "{{.Architecture}}", name) == "arm64\n"
    context = tmp_path / "from-registry"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {name}\nRUN cat /arch > /seen\n")
    ok(
        fresh, "build", "--platform", "linux/arm64,linux/amd64", "-o",
        f"type=local,dest={tmp_path / 'seen'}", str(context),
    )  # fmt: skip
    assert (tmp_path / "seen" / "linux_arm64" / "seen").read_text() == "aarch64\n"
    assert (tmp_path / "seen" / "linux_amd64" / "seen").read_text() == "x86_64\n"
    assert "linux/arm64,linux/amd64" in ok(fresh, "images", name)


def test_shared_layer_is_uploaded_once(
    tmp_path: Path, two_platforms: Path, registry: RegistryServer
) -> None:
    """The `tools` layer is the same for both platforms: one blob, pushed once."""
    from builder.registry.client import RegistryClient
    from builder.registry.progress import ProgressEvent
    from builder.registry.push import push
    from builder.store import Store

    root = two_platforms
    name = f"{registry.host}/shared:1"
    ok(root, "build", "--platform", "linux/amd64,linux/arm64", "-t", name, str(_context(tmp_path)))
    store = Store.open(root)
    manifests = [store.manifest(r) for _, r in store.platforms_of(name) or []]
    tools_layer = manifests[0].layers[1].digest
    assert manifests[1].layers[1].digest == tools_layer
    events: list[ProgressEvent] = []
    with RegistryClient(registry.host, insecure=True) as client:
        digest = push(store, name, progress=events.append, client=client)
    uploads = [e for e in events if e.digest == tools_layer and e.state == "done"]
    assert len(uploads) == 1
    index = store.find_index(name)
    assert index is not None and index.digest == digest


def test_missing_platform_is_an_error_and_nothing_is_tagged(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    root = tmp_path / "store"
    ok(root, "import", str(busybox_rootfs_tar), "busybox:latest")
    context = _context(tmp_path, "FROM busybox:latest\nRUN uname -m > /arch\n")
    proc = run(root, "build", "--platform", "linux/arm64", "-t", "app:arm", str(context))
    assert proc.returncode == 1
    assert 'base image "busybox:latest" has no linux/arm64 image: it offers linux/amd64' in (
        proc.stderr
    )
    assert "pybuild import --platform linux/arm64" in proc.stderr
    assert run(root, "inspect", "app:arm").returncode != 0


def test_missing_emulator_fails_before_the_first_step(tmp_path: Path, two_platforms: Path) -> None:
    """binfmt_misc mounted (PYBUILD_BINFMT_MISC points at a copy) but no qemu-aarch64 handler."""
    binfmt = tmp_path / "binfmt_misc"
    binfmt.mkdir()
    (binfmt / "status").write_text("enabled\n")
    context = _context(tmp_path, "FROM busybox:latest\nRUN echo hi\n")
    proc = run(
        two_platforms, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
        "-t", "app:arm", str(context), env={"PYBUILD_BINFMT_MISC": str(binfmt)},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "cannot run linux/arm64 programs: no qemu-aarch64 handler is registered" in proc.stderr
    assert "apt-get install qemu-user-static binfmt-support" in proc.stderr
    assert "#1 " not in proc.stderr  # not even the amd64 graph started
    assert run(two_platforms, "inspect", "app:arm").returncode != 0
    # the native platform alone never looks for an emulator
    alone = run(
        two_platforms, "build", "--platform", "linux/amd64", "-t", "app:amd", str(context),
        env={"PYBUILD_BINFMT_MISC": str(tmp_path / "absent")},
    )  # fmt: skip
    assert alone.returncode == 0, alone.stderr


def test_local_and_oci_outputs_hold_every_platform(tmp_path: Path, two_platforms: Path) -> None:
    skopeo = require_tool("skopeo")
    root = two_platforms
    context = _context(tmp_path)
    local = tmp_path / "out"
    archive = tmp_path / "app.tar"
    ok(
        root, "build", "--platform", "linux/arm64,linux/amd64", "-o",
        f"type=local,dest={local}", "-o", f"type=oci,dest={archive}", "-t", "app:oci",
        str(context),
    )  # fmt: skip
    assert (local / "linux_amd64" / "arch").read_text() == "x86_64\n"
    assert (local / "linux_arm64" / "arch").read_text() == "aarch64\n"
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci-archive:{archive}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    index = json.loads(raw)
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["arm64", "amd64"]
    tar_out = tmp_path / "rootfs.tar"
    ok(
        root, "build", "--platform", "linux/amd64,linux/arm64", "-o",
        f"type=tar,dest={tar_out}", str(context),
    )  # fmt: skip
    with tarfile.open(tar_out) as tar:
        names = {m.name.lstrip("./") for m in tar}
    assert {"linux_amd64/arch", "linux_arm64/arch"} <= names


def test_docker_archive_of_several_platforms_is_refused(tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM scratch\n")
    proc = run(
        tmp_path / "store", "build", "--platform", "linux/amd64,linux/arm64", "-o",
        f"type=docker,dest={tmp_path / 'x.tar'}", str(context),
    )  # fmt: skip
    assert proc.returncode != 0
    assert "does not support exporting manifest lists" in proc.stderr


def test_cache_export_carries_every_platform(tmp_path: Path, two_platforms: Path) -> None:
    root = two_platforms
    context = _context(tmp_path)
    cache = tmp_path / "cache"
    ok(
        root, "build", "--platform", "linux/amd64,linux/arm64", "--cache-to",
        f"type=local,dest={cache},mode=max", "-t", "app:cached", str(context),
    )  # fmt: skip
    ok(root, "builder", "prune", "-f")  # the local build cache is gone; the base images stay
    proc = run(
        root, "build", "--progress", "plain", "--platform", "linux/amd64,linux/arm64",
        "--cache-from", f"type=local,src={cache}", "-t", "app:cached", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    names = dict(re.findall(r"^#(\d+) \[(.*)$", proc.stderr, re.MULTILINE))
    states = dict(re.findall(r"^#(\d+) (DONE|CACHED)", proc.stderr, re.MULTILINE))
    work = [v for v, name in names.items() if "] RUN " in name or "] COPY " in name]
    assert len(work) == 10  # 3 RUN and 2 COPY per platform
    assert {states[v] for v in work} == {"CACHED"}


def test_the_api_returns_every_platform(tmp_path: Path, two_platforms: Path) -> None:
    import builder
    from builder import BuildRequest
    from builder.store import Store

    store = Store.open(two_platforms)
    context = _context(tmp_path, "FROM busybox:latest\nRUN uname -m > /arch\n")
    result = builder.build(
        BuildRequest(context, tags=["api:multi"], platforms=["linux/arm64", "linux/amd64"]),
        store=store,
    )
    assert result.index is not None
    assert result.image_id == result.manifest_digest == result.index.digest
    assert list(result.platforms) == ["linux/arm64", "linux/amd64"]
    assert store.config(result.platforms["linux/arm64"]).architecture == "arm64"
    assert result.config.architecture == "amd64"  # the host's platform's
    assert result.tags == ["docker.io/library/api:multi"]
    assert result.metadata["containerimage.digest"] == result.index.digest
    found = store.find_index("api:multi")
    assert found is not None and found.digest == result.index.digest


def test_docker_media_types_give_a_manifest_list(
    tmp_path: Path, two_platforms: Path, registry: RegistryServer
) -> None:
    skopeo = require_tool("skopeo")
    name = f"{registry.host}/docker-types:1"
    context = _context(tmp_path, "FROM busybox:latest\nRUN uname -m > /arch\n")
    ok(
        two_platforms, "build", "--platform", "linux/amd64,linux/arm64", "-o",
        f"type=registry,name={name},oci-mediatypes=false", str(context),
    )  # fmt: skip
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    listing = json.loads(raw)
    assert listing["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    assert {m["mediaType"] for m in listing["manifests"]} == {
        "application/vnd.docker.distribution.manifest.v2+json"
    }
    arm = subprocess.run(
        [skopeo, "inspect", "--tls-verify=false", "--override-arch", "arm64", f"docker://{name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert json.loads(arm)["Architecture"] == "arm64"


def test_index_and_descriptor_annotations(tmp_path: Path, two_platforms: Path) -> None:
    skopeo = require_tool("skopeo")
    archive = tmp_path / "annotated.tar"
    context = _context(tmp_path, "FROM busybox:latest\n")
    ok(
        two_platforms, "build", "--platform", "linux/amd64,linux/arm64",
        "--annotation", "index:org.opencontainers.image.description=both",
        "--annotation", "manifest-descriptor[linux/arm64]:com.example.arm=yes",
        "--annotation", "manifest:com.example.all=1",
        "-o", f"type=oci,dest={archive}", str(context),
    )  # fmt: skip
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", f"oci-archive:{archive}"], capture_output=True, check=True
    ).stdout
    index = json.loads(raw)
    assert index["annotations"] == {"org.opencontainers.image.description": "both"}
    entries = {m["platform"]["architecture"]: m.get("annotations") for m in index["manifests"]}
    assert entries == {"amd64": None, "arm64": {"com.example.arm": "yes"}}
    # manifest annotations stay on each platform's manifest
    from builder.store import Store

    store = Store.open(two_platforms)
    images = store.platforms_of("sha256:" + hashlib.sha256(raw).hexdigest()) or []
    assert len(images) == 2
    assert all(store.manifest(r).annotations == {"com.example.all": "1"} for _, r in images)


def test_index_annotations_need_several_platforms(tmp_path: Path, two_platforms: Path) -> None:
    context = _context(tmp_path, "FROM busybox:latest\n")
    proc = run(two_platforms, "build", "--annotation", "index:k=v", str(context))
    assert proc.returncode == 2
    assert "index annotations are not supported for a single platform" in proc.stderr


def test_an_oci_archive_of_several_platforms_loads_whole(
    tmp_path: Path, two_platforms: Path
) -> None:
    archive = tmp_path / "app.tar"
    context = _context(tmp_path, "FROM busybox:latest\nRUN uname -m > /arch\n")
    ok(
        two_platforms, "build", "--platform", "linux/amd64,linux/arm64", "-t", "app:rt",
        "-o", f"type=oci,dest={archive}", str(context),
    )  # fmt: skip
    other = tmp_path / "other-store"
    assert ok(other, "load", "-i", str(archive)) == "Loaded image: app:rt\n"
    assert "linux/amd64,linux/arm64" in ok(other, "images", "app:rt")
    inspected = json.loads(ok(other, "inspect", "app:rt"))[0]
    assert [m["Platform"] for m in inspected["Manifests"]] == ["linux/amd64", "linux/arm64"]


def test_attestations_of_every_platform_in_one_index(
    tmp_path: Path, two_platforms: Path, registry: RegistryServer
) -> None:
    """`--sbom --provenance` with two platforms: one attestation manifest per platform's
    image in the index, each naming its image, pushed and read back with skopeo."""
    skopeo = require_tool("skopeo")
    root = two_platforms
    name = f"{registry.host}/app:attested"
    ok(
        root, "build", "--platform", "linux/amd64,linux/arm64", "--sbom=true",
        "--provenance=mode=max", "--push", "--insecure-registry", registry.host, "-t", name,
        str(_context(tmp_path, "FROM busybox:latest\nRUN uname -m > /arch\n")),
    )  # fmt: skip
    raw = subprocess.run(
        [skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    entries = json.loads(raw)["manifests"]
    images = [e for e in entries if e["platform"]["os"] != "unknown"]
    attestations = [e for e in entries if e["platform"]["os"] == "unknown"]
    assert [e["platform"]["architecture"] for e in images] == ["amd64", "arm64"]
    assert entries == images + attestations  # images first, as BuildKit orders them
    references = [a["annotations"]["vnd.docker.reference.digest"] for a in attestations]
    assert references == [e["digest"] for e in images]
    assert {a["annotations"]["vnd.docker.reference.type"] for a in attestations} == {
        "attestation-manifest"
    }
    for attestation in attestations:
        where = f"docker://{registry.host}/app@{attestation['digest']}"
        shown = subprocess.run(
            [skopeo, "inspect", "--raw", "--tls-verify=false", where],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        manifest = json.loads(shown)
        kinds = {layer["annotations"]["in-toto.io/predicate-type"] for layer in manifest["layers"]}
        assert kinds == {"https://spdx.dev/Document", "https://slsa.dev/provenance/v0.2"}
    # the stored image keeps them: `pybuild attestations` reads the host platform's
    shown = ok(root, "attestations", name, "--type", "provenance", "--predicate")
    assert "linux/amd64" in shown
    # a local output: each platform's directory holds its own attestation files
    out = tmp_path / "out"
    ok(
        root, "build", "--platform", "linux/amd64,linux/arm64", "--sbom=true", "-o",
        f"type=local,dest={out}", str(_context(tmp_path, "FROM busybox:latest\n")),
    )  # fmt: skip
    for directory in ("linux_amd64", "linux_arm64"):
        provenance = json.loads((out / directory / "provenance.json").read_text())
        assert provenance["predicateType"] == "https://slsa.dev/provenance/v0.2"
        sbom = json.loads((out / directory / "sbom.spdx.json").read_text())
        assert sbom["predicate"]["spdxVersion"] == "SPDX-2.3"
