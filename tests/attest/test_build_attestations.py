"""`--sbom` and `--provenance` on a busybox build: stored with the image, kept by prune,
accepted by `system check`, written into OCI archives and beside local outputs."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.api import BuildRequest, build
from builder.attest.generate import attestation_files, stored_attestations
from builder.image.model import Index
from builder.store import Store
from tests.conftest import REPO, require_tool
from tests.solve.building import busybox_store, write_context

DOWNLOAD = b"a file fetched over HTTP\n"

DOCKERFILE = """
    FROM busybox AS build
    ARG BUILDKIT_SBOM_SCAN_STAGE=true
    COPY <<EOF /app/node_modules/left-pad/package.json
    {"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}
    EOF
    RUN echo built > /artifact

    FROM busybox AS unused
    RUN echo never

    FROM busybox
    COPY --from=build /artifact /artifact
    COPY <<EOF /usr/lib/python3/dist-packages/demo-1.0.dist-info/METADATA
    Metadata-Version: 2.1
    Name: demo
    Version: 1.0
    License: MIT
    EOF
    COPY <<EOF /usr/lib/python3/dist-packages/gone-2.0.dist-info/METADATA
    Metadata-Version: 2.1
    Name: gone
    Version: 2.0
    EOF
    RUN rm -r /usr/lib/python3/dist-packages/gone-2.0.dist-info
    ADD {url} /fetched.txt
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(DOWNLOAD)))
        self.end_headers()
        self.wfile.write(DOWNLOAD)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/fetched.txt"
    finally:
        httpd.shutdown()
        httpd.server_close()


def statements(store: Store, name: str) -> dict[str, dict[str, object]]:
    """Statement documents by their local-output file name."""
    record = store.resolve(name)
    return {n: json.loads(d) for n, d in attestation_files(store, record).items()}


def packages(doc: dict[str, object]) -> dict[str, str]:
    predicate = doc["predicate"]
    assert isinstance(predicate, dict)
    return {
        p["name"]: p["externalRefs"][0]["referenceLocator"]
        for p in predicate["packages"]
        if p["SPDXID"] != "SPDXRef-image"
    }


def test_sbom_and_provenance_of_a_multi_stage_build(
    tmp_path: Path, busybox_rootfs_tar: Path, http_url: str
) -> None:
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    base = store.resolve("busybox:latest")
    context = write_context(tmp_path / "ctx", DOCKERFILE.replace("{url}", http_url))
    local, archive = tmp_path / "local", tmp_path / "image.oci.tar"
    result = build(
        BuildRequest(
            context=context, tags=["attested:1"], sbom="true", provenance="mode=max",
            outputs=["type=image", f"type=local,dest={local}", f"type=oci,dest={archive}"],
            build_args={"GREETING": "hi"}, environ={},
        ),
        store=store,
    )  # fmt: skip
    record = result.record
    assert record.attestations is not None
    kinds = [a.predicate_type for a in stored_attestations(store, record)]
    assert kinds == [
        "https://spdx.dev/Document",
        "https://spdx.dev/Document",
        "https://slsa.dev/provenance/v0.2",
    ]
    docs = statements(store, "attested:1")
    assert sorted(docs) == ["provenance.json", "sbom-build.spdx.json", "sbom.spdx.json"]
    hex_digest = record.manifest_digest.split(":", 1)[1]
    for doc in docs.values():
        assert [s["digest"]["sha256"] for s in doc["subject"]] == [hex_digest]  # type: ignore[index]
    # the final image: demo, not the package its RUN removed, not the build stage's
    assert packages(docs["sbom.spdx.json"]) == {"demo": "pkg:pypi/demo@1.0"}
    assert packages(docs["sbom-build.spdx.json"]) == {"left-pad": "pkg:npm/left-pad@1.3.0"}
    provenance = docs["provenance.json"]["predicate"]
    assert isinstance(provenance, dict)
    materials = {m["uri"]: m["digest"] for m in provenance["materials"]}
    assert materials == {
        "pkg:docker/busybox@latest?platform=linux/amd64": {
            "sha256": base.manifest_digest.split(":", 1)[1]
        },
        http_url: {"sha256": hashlib.sha256(DOWNLOAD).hexdigest()},
    }
    assert provenance["invocation"]["parameters"]["args"] == {"build-arg:GREETING": "hi"}
    steps = [s["instruction"] for s in provenance["buildConfig"]["steps"]]
    assert "RUN echo never" not in steps  # the unused stage was not built
    assert steps[-1] == f"ADD {http_url} /fetched.txt"
    last = provenance["buildConfig"]["steps"][-1]
    assert last["layer"] == store.manifest(record).layers[-1].digest
    assert last["cached"] is False
    assert "cached" not in provenance["buildConfig"]["steps"][0]  # FROM: nothing to run

    # local output: the statements beside the root filesystem, as BuildKit names them
    assert (local / "fetched.txt").read_bytes() == DOWNLOAD
    assert json.loads((local / "provenance.json").read_text()) == docs["provenance.json"]
    assert (local / "sbom.spdx.json").is_file() and (local / "sbom-build.spdx.json").is_file()

    # oci archive: index.json -> the index [image manifest, attestation manifest]
    with tarfile.open(archive) as tar:
        top = Index.from_bytes(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        (entry,) = top.manifests
        assert entry.media_type == "application/vnd.oci.image.index.v1+json"
        blob = tar.extractfile("blobs/sha256/" + entry.digest.split(":", 1)[1])
        inner = Index.from_bytes(blob.read())  # type: ignore[union-attr]
    image, attestation = inner.manifests
    assert image.digest == record.manifest_digest
    assert result.metadata["containerimage.digest"] == entry.digest  # buildx names the index
    assert attestation.digest == record.attestations
    assert attestation.annotations["vnd.docker.reference.digest"] == record.manifest_digest
    require_tool("skopeo")
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci-archive:{archive}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert json.loads(raw)["manifests"][1]["platform"] == {
        "architecture": "unknown",
        "os": "unknown",
    }
    subprocess.run(
        ["skopeo", "copy", "-q", f"oci-archive:{archive}", f"oci:{tmp_path / 'copy'}:x"],
        check=True, capture_output=True,
    )  # fmt: skip

    # prune keeps what a named image's attestations use; system check finds the store whole
    store.prune()
    assert [a.predicate_type for a in stored_attestations(store, record)] == kinds
    report = store.check()
    assert report.healthy, report.findings


def test_a_rebuild_without_attestations_keeps_the_stored_ones(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo hi > /hi\n")
    first = build(
        BuildRequest(context=context, tags=["a:1"], provenance="true", environ={}), store=store
    )
    assert first.record.attestations is not None
    again = build(BuildRequest(context=context, tags=["a:1"], environ={}), store=store)
    assert again.record.id == first.record.id
    assert again.record.attestations == first.record.attestations
    (only,) = statements(store, "a:1")
    assert only == "provenance.json"
    docs = statements(store, "a:1")["provenance.json"]
    assert "buildConfig" not in docs["predicate"]  # type: ignore[operator]  # mode=min


def test_the_cli_prints_sboms_and_attestations(tmp_path: Path, busybox_rootfs_tar: Path) -> None:
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    context = write_context(
        tmp_path / "ctx",
        'FROM busybox\nCOPY <<EOF /srv/node_modules/ms/package.json\n{"name": "ms", "version": "2.1.3"}\nEOF\n',
    )

    def pybuild(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYBUILD_ROOT": str(store.root), "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [sys.executable, "-m", "builder.cli.main", *args],
            capture_output=True, text=True, env=env, cwd=REPO,
        )  # fmt: skip

    built = pybuild("build", "-q", "--attest", "type=sbom", "-t", "ms", str(context))
    assert built.returncode == 0, built.stderr
    printed = json.loads(pybuild("attestations", "ms", "--type", "sbom", "--predicate").stdout)
    assert [p["name"] for p in printed[0]["packages"]] == ["docker.io/library/ms:latest", "ms"]
    provenance = json.loads(pybuild("attestations", "ms", "--type", "provenance").stdout)
    assert provenance[0]["predicateType"] == "https://slsa.dev/provenance/v0.2"  # min, by default
    cdx = json.loads(pybuild("sbom", "ms", "--format", "cyclonedx-json").stdout)
    assert [c["purl"] for c in cdx["components"]] == ["pkg:npm/ms@2.1.3"]
    spdx = json.loads(pybuild("sbom", "busybox").stdout)
    assert spdx["spdxVersion"] == "SPDX-2.3"
    none = pybuild("attestations", "busybox")
    assert none.returncode != 0 and "has no attestations" in none.stderr
    bad = pybuild("build", "--sbom", "generator=x/y", str(context))
    assert bad.returncode != 0 and "generator images are not supported" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_scan_context_adds_an_sbom_of_the_build_context(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    lock = '{"name": "%s", "version": "1.0.0"}'
    context = write_context(
        tmp_path / "ctx",
        "ARG BUILDKIT_SBOM_SCAN_CONTEXT=true\nFROM busybox\nRUN echo hi > /hi\n",
        {
            "node_modules/kept/package.json": lock % "kept",
            "vendor/node_modules/ignored/package.json": lock % "ignored",
            ".dockerignore": "vendor\n",
        },
    )
    build(BuildRequest(context=context, tags=["ctx:1"], sbom="true", environ={}), store=store)
    docs = statements(store, "ctx:1")
    assert sorted(docs) == ["provenance.json", "sbom-context.spdx.json", "sbom.spdx.json"]
    assert packages(docs["sbom-context.spdx.json"]) == {"kept": "pkg:npm/kept@1.0.0"}
    assert packages(docs["sbom.spdx.json"]) == {}
    # --build-arg overrides the declared value
    build(
        BuildRequest(
            context=context, tags=["ctx:2"], sbom="true", environ={},
            build_args={"BUILDKIT_SBOM_SCAN_CONTEXT": "false"},
        ),
        store=store,
    )  # fmt: skip
    assert sorted(statements(store, "ctx:2")) == ["provenance.json", "sbom.spdx.json"]


def test_provenance_names_the_commit_of_an_added_git_repository(
    tmp_path: Path, busybox_rootfs_tar: Path
) -> None:
    from tests.git_daemon import serve_git

    work, bare = tmp_path / "work", tmp_path / "git" / "repo.git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip

    def git(*args: str, cwd: Path = work) -> str:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    work.mkdir()
    git("init", "-q", "-b", "main")
    (work / "README").write_text("hello\n")
    git("add", "README")
    git("commit", "-q", "-m", "one")
    commit = git("rev-parse", "HEAD")
    bare.parent.mkdir()
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    store = busybox_store(tmp_path / "store", busybox_rootfs_tar)
    with serve_git(bare.parent) as base:
        url = f"{base}/repo.git#main"
        context = write_context(tmp_path / "ctx", f"FROM busybox\nADD {url} /src\n")
        build(
            BuildRequest(context=context, tags=["g:1"], provenance="true", environ={}), store=store
        )
    predicate = statements(store, "g:1")["provenance.json"]["predicate"]
    assert isinstance(predicate, dict)
    assert {"uri": url, "digest": {"sha1": commit}} in predicate["materials"]
