"""Docker habits for images: `images -a/--filter`, `image ...`, `system df/prune`,
`builder prune`, `import --change`, `pull/push --all-tags`, `inspect --type`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_image_commands import (  # noqa: F401
    imported,
    ok,
    registry,
    root,
    run,
)
from tests.registry_server import RegistryServer


def _import(store: Path, tar: Path, name: str | None, *extra: str, epoch: int = 0) -> str:
    args = [*extra, str(tar)] + ([name] if name else [])
    env = {"SOURCE_DATE_EPOCH": str(epoch)} if epoch else None
    return ok(store, "import", *args, env=env).strip()


def test_images_filters_and_all(
    root: Path,  # noqa: F811
    busybox_rootfs_tar: Path,
) -> None:
    # `created` of an import is the tarball's newest mtime: $SOURCE_DATE_EPOCH orders them
    old = _import(root, busybox_rootfs_tar, "app:1", "-c", "LABEL tier=web", epoch=1000)
    mid = _import(root, busybox_rootfs_tar, "tools/box:2", "-c", "LABEL tier=db", epoch=2000)
    new = _import(root, busybox_rootfs_tar, None, epoch=3000)

    def ids(*args: str) -> list[str]:
        return ok(root, "images", "-q", "--no-trunc", *args).split()

    assert ids("-f", "dangling=true") == [new]
    assert sorted(ids("-f", "dangling=false")) == sorted([old, mid])
    assert ids("-f", "reference=app") == [old]
    assert ids("-f", "reference=*:2") == []  # `*` stops at `/`, as Go's path.Match
    assert ids("-f", "reference=*/*:2") == [mid]
    assert sorted(ids("-f", "reference=app", "-f", "reference=tools/*")) == sorted([old, mid])
    assert ids("-f", "label=tier=web") == [old]
    assert sorted(ids("-f", "label=tier")) == sorted([old, mid])
    assert ids("-f", "label=tier", "-f", "reference=tools/box") == [mid]  # keys AND
    assert ids("-f", "before=tools/box:2") == [old]
    assert ids("-f", "since=app:1", "-f", "dangling=false") == [mid]
    assert set(ids("-a")) == {old, mid, new}
    assert ok(root, "image", "ls", "-a", "-q", "--no-trunc") == ok(
        root, "images", "-a", "-q", "--no-trunc"
    )

    proc = run(root, "images", "-f", "colour=red")
    assert (proc.returncode, proc.stderr.strip()) == (1, "invalid filter 'colour'")
    proc = run(root, "images", "-f", "dangling=maybe")
    assert (proc.returncode, proc.stderr.strip()) == (1, "invalid filter 'dangling=maybe'")
    proc = run(root, "images", "-f", "nonsense")
    assert proc.returncode == 2 and "bad format of filter" in proc.stderr


def test_image_group_is_the_top_level_commands(root: Path, imported: str) -> None:  # noqa: F811
    assert ok(root, "image", "inspect", "-f", "{{.Id}}", "busybox:1") == imported + "\n"
    assert imported[7:19] in ok(root, "image", "history", "busybox:1")
    ok(root, "image", "tag", "busybox:1", "box:2")
    assert ok(root, "image", "rm", "box:2") == "Untagged: box:2\n"
    assert "Total reclaimed space:" in ok(root, "image", "prune", "-f")
    assert "Total reclaimed space:" in ok(root, "system", "prune", "-f")
    assert ok(root, "images", "-q") == imported[7:19] + "\n"


def test_inspect_type(root: Path, imported: str) -> None:  # noqa: F811
    assert ok(root, "inspect", "--type", "image", "-f", "{{.Id}}", "busybox:1") == imported + "\n"
    proc = run(root, "inspect", "--type", "container", "web")
    assert (proc.returncode, proc.stderr.strip()) == (1, "No such container: web")
    proc = run(root, "inspect", "--type", "volume", "busybox:1")
    assert proc.returncode == 2 and '"volume" is not a valid value for --type' in proc.stderr


def test_system_df_and_builder_prune(root: Path, imported: str) -> None:  # noqa: F811
    steps = root / "cache" / "steps"
    steps.mkdir(parents=True)
    (steps / ("a" * 64 + ".json")).write_text("{}")
    lines = ok(root, "system", "df").splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in lines[1:]] == ["Images", "Containers", "Build"]
    assert lines[1].split()[1:3] == ["1", "0"] and lines[3].split()[2:4] == ["1", "0"]
    verbose = ok(root, "system", "df", "-v")
    assert "Images space usage:" in verbose and "Build cache usage:" in verbose
    assert "busybox" in verbose and "a" * 12 in verbose

    out = ok(root, "builder", "prune", stdin=b"n\n")
    assert "WARNING! This will remove all dangling build cache." in out
    assert (steps / ("a" * 64 + ".json")).exists()
    assert "Total reclaimed space:" in ok(root, "builder", "prune", "-f")
    assert not steps.exists()
    assert ok(root, "images", "-q") == imported[7:19] + "\n"  # images stay


def test_import_change_and_message(
    root: Path,  # noqa: F811
    busybox_rootfs_tar: Path,
) -> None:
    changes = [
        'CMD ["/bin/sh", "-c", "echo hi"]',
        "ENTRYPOINT /bin/env",
        "ENV A=1 B=two",
        "EXPOSE 80 53/udp",
        'LABEL team="core dev"',
        "USER nobody",
        "VOLUME /data",
        "WORKDIR /srv",
        "WORKDIR app",
        "ONBUILD RUN echo child",
    ]
    args = [a for change in changes for a in ("--change", change)]
    _import(root, busybox_rootfs_tar, "changed:1", *args, "-m", "with changes")
    (doc,) = json.loads(ok(root, "inspect", "changed:1"))
    config = doc["Config"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/env"]
    assert config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert config["Env"][-2:] == ["A=1", "B=two"]
    assert set(config["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert config["Labels"] == {"team": "core dev"}
    assert config["User"] == "nobody" and config["WorkingDir"] == "/srv/app"
    assert set(config["Volumes"]) == {"/data"} and config["OnBuild"] == ["RUN echo child"]
    assert "with changes" in ok(root, "history", "--no-trunc", "changed:1")

    proc = run(root, "import", "-c", "RUN true", str(busybox_rootfs_tar), "bad:1")
    assert proc.returncode == 2 and "RUN is not a valid change command" in proc.stderr
    assert "bad" not in ok(root, "images")


def test_push_and_pull_all_tags(
    root: Path,  # noqa: F811
    imported: str,  # noqa: F811
    tmp_path: Path,
    registry: RegistryServer,  # noqa: F811
    busybox_rootfs_tar: Path,
) -> None:
    repo = f"{registry.host}/alltags/box"
    other = _import(root, busybox_rootfs_tar, f"{repo}:2", "-c", "LABEL v=2")
    ok(root, "tag", "busybox:1", f"{repo}:1")
    ok(root, "tag", "busybox:1", f"{registry.host}/alltags/unrelated:9")
    out = ok(root, "push", "-a", repo)
    assert out.splitlines()[0] == f"The push refers to repository [{repo}]"
    assert "1: digest: sha256:" in out and "2: digest: sha256:" in out
    assert "9: digest" not in out
    proc = run(root, "push", "--all-tags", f"{repo}:1")
    assert proc.returncode == 2 and "tag can't be used with --all-tags/-a" in proc.stderr

    fresh = tmp_path / "fresh"
    pulled = ok(fresh, "pull", "--all-tags", repo)
    assert "1: Pulling from alltags/box" in pulled and "2: Pulling from alltags/box" in pulled
    assert f"Status: Downloaded newer image for {repo}" in pulled
    assert pulled.splitlines()[-1] == repo
    names = ok(fresh, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert sorted(names) == [f"{repo}:1", f"{repo}:2"]
    assert sorted(ok(fresh, "images", "-q", "--no-trunc").split()) == sorted([imported, other])
    assert "Image is up to date" in ok(fresh, "image", "pull", "-a", repo)
    proc = run(fresh, "pull", "-a", f"{repo}:1")
    assert proc.returncode == 2 and "tag can't be used with --all-tags/-a" in proc.stderr
