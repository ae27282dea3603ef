"""Docker's rules for a container's command and environment, and `commit -c` changes."""

from __future__ import annotations

import pytest

from builder.containers.changes import apply_changes
from builder.containers.command import container_command, container_env, working_dir
from builder.containers.volumes import parse_volume
from builder.errors import ContainerError
from builder.image.model import ContainerConfig

IMAGE = ContainerConfig(entrypoint=["/entry"], cmd=["default"], env=["PATH=/bin", "A=image"])


@pytest.mark.parametrize(
    ("cmd", "entrypoint", "expected"),
    [
        ([], None, ["/entry", "default"]),
        (["given"], None, ["/entry", "given"]),
        ([], "other", ["other"]),  # --entrypoint clears the image's CMD
        (["x"], "other", ["other", "x"]),
        (["x"], "", ["x"]),
    ],
)
def test_command(cmd: list[str], entrypoint: str | None, expected: list[str]) -> None:
    assert container_command(IMAGE, cmd, entrypoint) == expected


def test_no_command_is_an_error() -> None:
    with pytest.raises(ContainerError, match="no command"):
        container_command(ContainerConfig(), [], None)


def test_env() -> None:
    env = container_env(IMAGE.env, ["A=given", "B=2", "H", "MISSING"], {"H": "host"})
    assert env == ["PATH=/bin", "A=given", "B=2", "H=host"]
    with pytest.raises(ContainerError):
        container_env([], ["=x"], {})


def test_working_dir() -> None:
    assert working_dir(ContainerConfig(), None) == "/"
    assert working_dir(ContainerConfig(working_dir="/app"), None) == "/app"
    assert working_dir(ContainerConfig(working_dir="/app"), "/w") == "/w"
    with pytest.raises(ContainerError):
        working_dir(ContainerConfig(), "relative")


def test_volumes(tmp_path: object) -> None:
    mount = parse_volume(f"{tmp_path}:/data:ro")
    assert (mount.destination, mount.type, mount.options) == ("/data", "bind", ("rbind", "ro"))
    for bad in ("name:/data", f"{tmp_path}:rel", f"{tmp_path}:/d:zz", "/no/such/dir:/d"):
        with pytest.raises(ContainerError):
            parse_volume(bad)


def test_changes() -> None:
    config = apply_changes(
        IMAGE,
        [
            'CMD ["a", "b"]',
            "ENV A=changed C='with space'",
            "env D old form",
            "WORKDIR /srv",
            "WORKDIR sub",
            "USER app:app",
            'LABEL x=1 "y z"=2',
            "EXPOSE 80 53/udp",
            "STOPSIGNAL SIGTERM",
            "VOLUME /v",
        ],
    )
    assert config.cmd == ["a", "b"]
    assert config.env == ["PATH=/bin", "A=changed", "C=with space", "D=old form"]
    assert config.working_dir == "/srv/sub"
    assert config.user == "app:app"
    assert config.labels == {"x": "1", "y z": "2"}
    assert config.exposed_ports == {"80/tcp": {}, "53/udp": {}}
    assert config.stop_signal == "SIGTERM" and config.volumes == {"/v": {}}
    shell = apply_changes(IMAGE, ["ENTRYPOINT run me"])
    assert shell.entrypoint == ["/bin/sh", "-c", "run me"] and shell.cmd is None


@pytest.mark.parametrize("bad", ["RUN echo", "CMD", "ENV novalue", "FROM x"])
def test_bad_changes(bad: str) -> None:
    with pytest.raises(ContainerError):
        apply_changes(IMAGE, [bad])
