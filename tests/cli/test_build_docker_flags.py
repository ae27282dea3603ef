"""`pybuild build` with the flags CI scripts pass to `docker build`: Docker's effects and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_image_commands import ok, run


@pytest.fixture
def root(tmp_path: Path, busybox_rootfs_tar: Path) -> Path:
    store = tmp_path / "store"
    ok(store, "import", str(busybox_rootfs_tar), "busybox:latest")
    return store


def _context(tmp_path: Path, dockerfile: str, name: str = "Dockerfile") -> Path:
    context = tmp_path / "ctx"
    context.mkdir(exist_ok=True)
    (context / name).write_text(dockerfile)
    return context


def test_legacy_flags_are_accepted_and_ignored(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN echo built\n")
    proc = run(
        root, "build", "--rm", "--force-rm", "--compress", "--disable-content-trust", "--stream",
        "--rm=false", "--force-rm=true", "--compress=0", "--disable-content-trust=false",
        "-m", "1g", "--memory", "512m", "--memory-swap", "-1", "-c", "512", "--cpu-shares", "2",
        "--cpu-period", "100000", "--cpu-quota", "50000", "--cpuset-cpus", "0-1",
        "--cpuset-mems", "0", "-t", "legacy:1", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr  # buildx accepts these silently


def test_deprecated_flags_warn_as_buildx(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN true\n")
    proc = run(
        root, "build", "--squash", "--isolation", "default", "--security-opt", "seccomp=x",
        str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: isolation flag is deprecated with BuildKit." in proc.stderr
    assert "WARNING: experimental flag squash is removed with BuildKit." in proc.stderr
    assert "WARNING: security-opt flag is deprecated." in proc.stderr


def test_legacy_flag_values_are_checked(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\n")
    proc = run(root, "build", "--rm=maybe", str(context))
    assert proc.returncode == 2
    assert 'invalid argument "maybe" for "--rm" flag' in proc.stderr
    proc = run(root, "build", "--cpu-shares", "lots", str(context))
    assert proc.returncode == 2


def test_containerfile_is_the_default_without_a_dockerfile(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN echo from-containerfile\n", "Containerfile")
    proc = run(root, "build", "--progress", "plain", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "from-containerfile" in proc.stderr
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo from-dockerfile\n")
    proc = run(root, "build", "--progress", "plain", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "from-dockerfile" in proc.stderr  # Dockerfile wins when both exist


def test_dockerfile_on_stdin_has_an_empty_context(root: Path) -> None:
    dockerfile = b"FROM busybox\nRUN echo from-stdin; ls -A /ctx 2>&1 | wc -l\n"
    proc = run(root, "build", "--progress", "plain", "-t", "stdin:1", "-", stdin=dockerfile)
    assert proc.returncode == 0, proc.stderr
    assert "from-stdin" in proc.stderr
    proc = run(root, "build", "-", stdin=b"FROM busybox\nCOPY missing.txt /\n")
    assert proc.returncode == 1
    assert "missing.txt" in proc.stderr
    assert "truncated or corrupt" not in proc.stderr


def test_add_host_is_in_etc_hosts_and_the_cache_key(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN cat /etc/hosts\n")
    args = ["build", "--progress", "plain", "--add-host", "db.internal:10.1.2.3"]
    proc = run(root, *args, "--add-host", "v6=[fd00::1]", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "10.1.2.3\tdb.internal" in proc.stderr
    assert "fd00::1\tv6" in proc.stderr
    proc = run(root, *args, "--add-host", "v6=fd00::2", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "fd00::2\tv6" in proc.stderr  # a changed host runs the step again
    proc = run(root, *args, "--add-host", "v6=fd00::2", str(context))
    assert "CACHED" in proc.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nohost", "bad format for add-host"),
        ("db:notanip", "invalid IP address in add-host"),
        ("db:host-gateway", "host-gateway is not supported"),
    ],
)
def test_add_host_errors(root: Path, tmp_path: Path, value: str, message: str) -> None:
    context = _context(tmp_path, "FROM busybox\n")
    proc = run(root, "build", "--add-host", value, str(context))
    assert proc.returncode == 2
    assert message in proc.stderr


def test_ulimit_sets_the_step_limits(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, 'FROM busybox\nRUN echo "soft=$(ulimit -n) hard=$(ulimit -Hn)"\n')
    proc = run(root, "build", "--progress", "plain", "--ulimit", "nofile=1234:2345", str(context))
    assert proc.returncode == 0, proc.stderr
    assert "soft=1234 hard=2345" in proc.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bogus=1", "invalid ulimit type: bogus"),
        ("nofile", "invalid ulimit argument: nofile"),
        ("nofile=10:5", "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
        ("nofile=x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ],
)
def test_ulimit_errors(root: Path, tmp_path: Path, value: str, message: str) -> None:
    context = _context(tmp_path, "FROM busybox\n")
    proc = run(root, "build", "--ulimit", value, str(context))
    assert proc.returncode == 2
    assert message in proc.stderr


def test_shm_size_is_the_dev_shm_size(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN df -k /dev/shm | tail -n 1\n")
    proc = run(root, "build", "--progress", "plain", "--shm-size", "128m", str(context))
    assert proc.returncode == 0, proc.stderr
    assert " 131072 " in proc.stderr
    proc = run(root, "build", "--shm-size", "lots", str(context))
    assert proc.returncode == 2
    assert "invalid size: 'lots'" in proc.stderr


def test_cgroup_parent_places_the_container(root: Path, tmp_path: Path) -> None:
    context = _context(tmp_path, "FROM busybox\nRUN cat /proc/self/cgroup\n")
    proc = run(
        root, "build", "--progress", "plain", "--cgroup-parent", "/pybuild-test", str(context)
    )
    assert proc.returncode == 0, proc.stderr
    assert "/pybuild-test/pybuild-" in proc.stderr
    proc = run(root, "build", "--cgroup-parent", "/a/../b", str(context))
    assert proc.returncode == 2


def test_flags_reach_the_library(tmp_path: Path) -> None:
    import builder
    from builder.errors import UsageError

    request = builder.BuildRequest(tmp_path, dockerfile=b"FROM scratch\n", ulimits=["nproc=x"])
    with pytest.raises(UsageError):
        builder.build(request)


def test_annotation_on_the_manifest(root: Path, tmp_path: Path) -> None:
    import json
    import subprocess

    from builder.image.platform import host_platform
    from builder.store import Store

    context = _context(tmp_path, "FROM busybox\nRUN true\n")
    archive = tmp_path / "image.tar"
    proc = run(
        root, "build", "-t", "annotated:1", "--annotation", "org.opencontainers.image.title=app",
        "--annotation", "manifest:com.example.ci=42",
        "--annotation", f"manifest[{host_platform()}]:com.example.mine=yes",
        "--annotation", "manifest[linux/s390x]:com.example.other=no",
        "-o", "type=image", "-o", f"type=oci,dest={archive}", str(context),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    store = Store.open(root)
    record = store.find("annotated:1")
    assert record is not None
    wanted = {
        "org.opencontainers.image.title": "app",
        "com.example.ci": "42",
        "com.example.mine": "yes",
    }
    assert store.manifest(record).annotations == wanted
    raw = subprocess.run(  # skopeo is installed by tests/install-deps.sh
        ["skopeo", "inspect", "--raw", f"oci-archive:{archive}"], capture_output=True, check=True
    ).stdout
    assert json.loads(raw)["annotations"] == wanted


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("novalue", "invalid annotation 'novalue', expected key=value"),
        ("bogus:k=v", "unknown annotation type 'bogus'"),
        ("index:k=v", "index annotations are not supported"),
        ("manifest-descriptor:k=v", "manifest-descriptor annotations are not supported"),
    ],
)
def test_annotation_errors(root: Path, tmp_path: Path, value: str, message: str) -> None:
    context = _context(tmp_path, "FROM busybox\n")
    proc = run(root, "build", "--annotation", value, str(context))
    assert proc.returncode == 2
    assert message in proc.stderr


def test_stdin_is_told_apart_as_docker_does() -> None:
    import gzip
    import io
    import tarfile

    from builder.context.stdin import is_archive, read_head

    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("Dockerfile"), io.BytesIO(b""))
    assert is_archive(plain.getvalue()[:512])
    assert is_archive(gzip.compress(b"anything")[:512])
    assert not is_archive(b"FROM busybox\n" * 100)
    assert not is_archive(b"")
    head, stream = read_head(io.BytesIO(b"FROM busybox\nRUN true\n"))
    assert head == b"FROM busybox\nRUN true\n" and stream.read() == head
