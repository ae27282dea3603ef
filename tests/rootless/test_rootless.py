"""Rootless builds: an unprivileged user with subordinate ids builds, pushes, pulls and runs.

Each test runs the real CLI as a user made by the test set-up (see
users.py), with runc, overlayfs in a user namespace and newuidmap/newgidmap;
what that user builds is compared with what root builds from the same base.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, REPO
from tests.registry_server import start_registry
from tests.rootless.users import SUBID_FILES, Runner, shared_dir, subid_start
from tests.solve.test_sshd import debian_rootfs_tar  # noqa: F401  (a session fixture)

EPOCH = "1700000000"

MULTI_STAGE = """\
    FROM busybox AS tools
    RUN mkdir -p /opt/tool && echo tool > /opt/tool/run && chmod 4755 /opt/tool/run \\
     && echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd && chown 1234:1234 /opt/tool
    RUN rm -rf /usr/bin && mkdir /usr/bin && touch /usr/bin/new
    RUN test "$(ls /usr/bin)" = new

    FROM busybox
    COPY --from=tools /opt/tool /opt/tool
    COPY --chown=1234:5678 hello.txt /srv/hello.txt
    RUN chmod u+s /srv/hello.txt && rm -rf /home && ln /bin/busybox /srv/linked \\
     && mkdir -p /srv/d && chown 42:43 /srv/d && chmod 2750 /srv/d
    RUN rm /bin/vi
"""


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _as_root(store: Path, *args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "PYBUILD_ROOT": str(store), "PYTHONPATH": str(REPO),
           "SOURCE_DATE_EPOCH": EPOCH}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "from builder.cli.main import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    return _ok(result).stdout


def _context(path: Path, dockerfile: str, files: dict[str, str]) -> Path:
    shared_dir(path)
    (path / "Dockerfile").write_text(textwrap.dedent(dockerfile))
    for name, text in files.items():
        (path / name).write_text(text)
    for item in path.iterdir():
        item.chmod(0o644)
    return path


def _member(m: tarfile.TarInfo) -> tuple[Any, ...]:
    pax = sorted(m.pax_headers.items())
    return (m.name, m.uid, m.gid, oct(m.mode), m.type, m.linkname, m.size, m.mtime, pax)


def _saved_image(path: Path) -> tuple[dict[str, Any], list[list[tuple[Any, ...]]]]:
    """A `pybuild save` archive's image config, and each layer's entries (name, owner, mode...)."""
    layers = []
    with tarfile.open(path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(archive.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        for name in manifest["Layers"]:
            data = archive.extractfile(name).read()  # type: ignore[union-attr]
            with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                layers.append([_member(m) for m in layer])
    return config, layers


def _entry(layers: list[list[tuple[Any, ...]]], name: str) -> tuple[Any, ...]:
    found = [entry for layer in layers for entry in layer if entry[0] == name]
    assert found, f"{name} is in no layer"
    return found[-1]


def test_rootless_build_equals_root_build(
    rootless: Runner, workdir: Path, busybox_rootfs_tar: Path, tmp_path: Path
) -> None:
    """Multi-stage, RUN, COPY --chown, setuid, whiteouts: the user's image is root's, byte for byte."""
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    context = _context(workdir / "ctx", MULTI_STAGE, {"hello.txt": "hello\n"})
    _ok(rootless("import", str(base), "busybox"))
    # root builds on the very same base image (an import records the time it ran)
    _ok(rootless("save", "-o", str(rootless.home / "base.tar"), "busybox"))
    _ok(rootless("build", "-t", "multi", str(context), SOURCE_DATE_EPOCH=EPOCH))
    user_id = _ok(rootless("inspect", "multi", "--format", "{{.Id}}")).stdout.strip()
    _ok(rootless("save", "-o", str(rootless.home / "multi.tar"), "multi"))

    root_store = tmp_path / "store"
    _as_root(root_store, "load", "-i", str(rootless.home / "base.tar"))
    _as_root(root_store, "build", "-t", "multi", str(context))
    root_id = _as_root(root_store, "inspect", "multi", "--format", "{{.Id}}").strip()
    _as_root(root_store, "save", "-o", str(tmp_path / "multi.tar"), "multi")

    user_config, user_layers = _saved_image(rootless.home / "multi.tar")
    root_config, root_layers = _saved_image(tmp_path / "multi.tar")
    assert user_layers == root_layers
    assert user_config == root_config
    assert user_id == root_id
    # ... and both hold what the Dockerfile says, not the user's ids
    assert _entry(user_layers, "srv/hello.txt")[1:4] == (1234, 5678, "0o4644")
    assert _entry(user_layers, "opt/tool/run")[1:4] == (0, 0, "0o4755")
    assert _entry(user_layers, "srv/d")[1:4] == (42, 43, "0o2750")
    assert _entry(user_layers, "srv/linked")[4] == tarfile.LNKTYPE
    assert _entry(user_layers, ".wh.home")[1:3] == (0, 0)
    assert _entry(user_layers, "bin/.wh.vi")
    names = {entry[0] for layer in user_layers for entry in layer}
    assert "usr/bin/.wh..wh..opq" not in names  # the tools stage is not in the image

    # the store is the user's default one, its files owned by the mapped ids on the host
    store = rootless.store
    assert (store / "index.json").is_file()
    assert store.stat().st_uid == rootless.user.uid
    uid_base, gid_base = (subid_start(rootless.user, path) for path in SUBID_FILES)
    hello = [p for p in (store / "snapshots").glob("*/fs/srv/hello.txt")]
    assert hello
    assert {(p.stat().st_uid, p.stat().st_gid) for p in hello} == {
        (uid_base + 1233, gid_base + 5677)
    }


def test_fuse_overlayfs_build_has_root_builds_files(
    rootless: Runner, workdir: Path, busybox_rootfs_tar: Path, tmp_path: Path, fuse_device: Path
) -> None:
    """With fuse-overlayfs (the fallback where the kernel refuses overlayfs in a user namespace)
    the layers hold the same names, owners, modes and contents as root's.

    Directory mtimes may differ: fuse-overlayfs stamps a directory when it copies a file
    inside it up, the kernel keeps the lower one's.
    """
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    context = _context(workdir / "ctx", MULTI_STAGE, {"hello.txt": "hello\n"})
    _ok(rootless("import", str(base), "busybox"))
    built = rootless("build", "-t", "multi", str(context), PYBUILD_OVERLAY="fuse-overlayfs")
    _ok(built)
    _ok(rootless("save", "-o", str(rootless.home / "multi.tar"), "multi"))
    root_store = tmp_path / "store"
    _as_root(root_store, "import", str(base), "busybox")
    _as_root(root_store, "build", "-t", "multi", str(context))
    _as_root(root_store, "save", "-o", str(tmp_path / "multi.tar"), "multi")

    def files(path: Path) -> list[list[tuple[Any, ...]]]:
        _, layers = _saved_image(path)  # all but the mtime
        return [[entry[:7] + entry[8:] for entry in layer] for layer in layers]

    assert files(rootless.home / "multi.tar") == files(tmp_path / "multi.tar")
    # no fuse-overlayfs process outlives its mount
    daemons = subprocess.run(["pgrep", "-u", str(rootless.user.uid), "-x", "fuse-overlayfs"],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert daemons.stdout == ""


@pytest.mark.parametrize("overlay", ["kernel", "fuse-overlayfs"])
def test_rootless_opaque_directory_layer(
    rootless: Runner, workdir: Path, busybox_rootfs_tar: Path, overlay: str, request: Any
) -> None:
    """A directory removed and made again is opaque in the layer (user.overlay.opaque inside);
    a new directory is not (fuse-overlayfs marks every new one opaque)."""
    if overlay == "fuse-overlayfs":
        request.getfixturevalue("fuse_device")
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    dockerfile = """\
        FROM busybox
        RUN rm -rf /usr/bin && mkdir /usr/bin /usr/new && touch /usr/bin/new
        RUN test "$(ls /usr/bin)" = new && test -d /usr/new
    """
    context = _context(workdir / "ctx", dockerfile, {})
    _ok(rootless("import", str(base), "busybox"))
    _ok(rootless("build", "-t", "opaque", str(context), PYBUILD_OVERLAY=overlay))
    _ok(rootless("save", "-o", str(rootless.home / "opaque.tar"), "opaque"))
    _, layers = _saved_image(rootless.home / "opaque.tar")
    names = [entry[0] for entry in layers[-1]]
    assert names == ["usr", "usr/bin", "usr/bin/.wh..wh..opq", "usr/bin/new", "usr/new"]
    # the user's overlay xattrs never reach a layer
    assert not [entry for layer in layers for entry in layer if "overlay" in str(entry[8])]


def test_rootless_push_pull_run(
    rootless: Runner,
    rootless_elsewhere: Runner,
    workdir: Path,
    busybox_rootfs_tar: Path,
    tmp_path: Path,
) -> None:
    """The user pushes to a registry, pulls into a second store and runs the image there."""
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    dockerfile = """\
        FROM busybox
        COPY --chown=1234:5678 hello.txt /srv/hello.txt
        RUN chmod u+s /srv/hello.txt && rm /bin/vi \\
         && rm -rf /usr/bin && mkdir /usr/bin && touch /usr/bin/new
    """
    context = _context(workdir / "ctx", dockerfile, {"hello.txt": "hello\n"})
    _ok(rootless("import", str(base), "busybox"))
    with start_registry(tmp_path / "registry") as registry:
        ref = f"{registry.host}/rootless/hello:1"
        _ok(rootless("build", "-t", ref, str(context)))
        _ok(rootless("push", ref))
        _ok(rootless_elsewhere("pull", ref))
    run = _ok(rootless_elsewhere("run", "--rm", ref, "stat", "-c", "%u %g %A", "/srv/hello.txt"))
    assert run.stdout.split() == ["1234", "5678", "-rwSr--r--"]
    whoami = _ok(rootless_elsewhere("run", "--rm", ref, "id", "-u"))
    assert whoami.stdout.strip() == "0"
    # the pulled layers' whiteouts and opaque directory, unpacked in the user namespace
    # (0:0 devices, user.overlay.opaque), hide what they delete
    listing = _ok(
        rootless_elsewhere(
            "run", "--rm", ref, "sh", "-c", "ls /usr/bin; test -e /bin/vi || echo gone"
        )
    )
    assert listing.stdout.split() == ["new", "gone"]


def test_rootless_network_modes(rootless: Runner, workdir: Path, busybox_rootfs_tar: Path) -> None:
    """RUN works rootless with the default network and with none (only a loopback there)."""
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    dockerfile = """\
        FROM busybox
        RUN --network=none cat /proc/net/dev > /none.txt
        RUN cat /proc/net/dev > /default.txt
    """
    context = _context(workdir / "ctx", dockerfile, {})
    _ok(rootless("import", str(base), "busybox"))
    _ok(rootless("build", "-t", "net", str(context)))
    none = _ok(rootless("run", "--rm", "net", "cat", "/none.txt")).stdout
    interfaces = [line.split(":")[0].strip() for line in none.splitlines()[2:]]
    assert interfaces == ["lo"]
    default = _ok(rootless("run", "--rm", "net", "cat", "/default.txt")).stdout
    assert len(default.splitlines()) > 2


def test_without_subordinate_ids_the_message_says_what_to_add(
    no_subids: Runner, workdir: Path
) -> None:
    context = _context(workdir / "ctx", "FROM scratch\nCOPY Dockerfile /\n", {})
    result = no_subids("build", str(context))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    name = no_subids.user.name
    assert f"subordinate ids for user {name}" in result.stderr
    assert re.search(rf"echo {name}:\d+:65536 >> /etc/subuid\n", result.stderr)
    assert re.search(rf"echo {name}:\d+:65536 >> /etc/subgid\n", result.stderr)
    assert "apt-get install uidmap" in result.stderr
    # help and the linter need no namespace
    _ok(no_subids("build", "--help"))
    lint = no_subids("lint", str(context / "Dockerfile"))
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_rootless_sshd_equals_root_sshd(
    rootless: Runner,
    workdir: Path,
    debian_rootfs_tar: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The sshd fixture, as the user and as root: the same files, owners and modes (setuid too)."""
    base = workdir / "debian.tar"
    shutil.copyfile(debian_rootfs_tar, base)
    base.chmod(0o644)
    context = shared_dir(workdir / "sshd")
    for item in (FIXTURES / "sshd").iterdir():
        shutil.copyfile(item, context / item.name)
        (context / item.name).chmod(0o644)
    _ok(rootless("import", str(base), "debian:bookworm-slim"))
    _ok(rootless("build", "-t", "sshd", str(context)))
    _ok(rootless("save", "-o", str(rootless.home / "sshd.tar"), "sshd"))
    root_store = tmp_path / "store"
    _as_root(root_store, "import", str(base), "debian:bookworm-slim")
    _as_root(root_store, "build", "-t", "sshd", str(context))
    _as_root(root_store, "save", "-o", str(tmp_path / "sshd.tar"), "sshd")

    def files(path: Path) -> list[set[tuple[Any, ...]]]:
        _, layers = _saved_image(path)  # name, uid, gid, mode, type, link target
        return [{entry[:6] for entry in layer} for layer in layers]

    user_files, root_files = files(rootless.home / "sshd.tar"), files(tmp_path / "sshd.tar")
    assert len(user_files) == len(root_files) == 4
    for index, (mine, roots) in enumerate(zip(user_files, root_files, strict=True)):
        assert mine == roots, (index, sorted(mine ^ roots)[:20])
    sshd = [entry for entry in user_files[-1] if entry[0] == "usr/sbin/sshd"]
    assert sshd == [("usr/sbin/sshd", 0, 0, "0o4755", tarfile.REGTYPE, "")]


def test_rootless_with_crun(rootless: Runner, workdir: Path, busybox_rootfs_tar: Path) -> None:
    """`--runtime crun` works rootless too (on a hybrid cgroup host it needs the v2 half hidden)."""
    base = workdir / "busybox.tar"
    shutil.copyfile(busybox_rootfs_tar, base)
    base.chmod(0o644)
    dockerfile = """\
        FROM busybox
        RUN cat /proc/self/uid_map > /uid_map && chown 7:8 /uid_map
    """
    context = _context(workdir / "ctx", dockerfile, {})
    _ok(rootless("import", str(base), "busybox"))
    _ok(rootless("build", "--runtime", "crun", "-t", "crun", str(context)))
    out = _ok(rootless("run", "--rm", "crun", "stat", "-c", "%u:%g", "/uid_map")).stdout
    assert out.strip() == "7:8"
    uid_map = _ok(rootless("run", "--rm", "crun", "cat", "/uid_map")).stdout.split()
    assert uid_map[:3] == ["0", str(rootless.user.uid), "1"]
