"""What a container runs, with docker's rules: command, environment, working dir, user."""

from __future__ import annotations

import os
from collections.abc import Mapping

from builder.errors import ContainerError
from builder.image.model import ContainerConfig


def container_command(config: ContainerConfig, cmd: list[str], entrypoint: str | None) -> list[str]:
    """ENTRYPOINT + CMD: a given CMD replaces the image's; `--entrypoint` replaces
    ENTRYPOINT and clears the image's CMD (`--entrypoint ""` clears ENTRYPOINT)."""
    if entrypoint is not None:
        head = [entrypoint] if entrypoint else []
        tail = list(cmd)
    else:
        head = list(config.entrypoint or [])
        tail = list(cmd) if cmd else list(config.cmd or [])
    argv = head + tail
    if not argv:
        raise ContainerError(
            "no command specified", hint="the image has no ENTRYPOINT or CMD: give a command"
        )
    return argv


def container_env(
    image_env: list[str], given: list[str], host: Mapping[str, str] | None = None
) -> list[str]:
    """The image's env, then `-e K=V` (a name replaces the image's value in place);
    `-e K` takes K from the host environment, and is dropped when the host has none."""
    host = os.environ if host is None else host
    out = list(image_env)
    for item in given:
        key, eq, value = item.partition("=")
        if not key:
            raise ContainerError(f"invalid environment variable: {item!r}", exit_code=125)
        if not eq:
            if key not in host:
                continue
            value = host[key]
        entry = f"{key}={value}"
        index = next((i for i, e in enumerate(out) if e.partition("=")[0] == key), None)
        if index is None:
            out.append(entry)
        else:
            out[index] = entry
    return out


def working_dir(config: ContainerConfig, given: str | None) -> str:
    """`-w`, else the image's WORKDIR, else `/`; it must be absolute."""
    directory = given if given else (config.working_dir or "/")
    if not directory.startswith("/"):
        raise ContainerError(
            f"the working directory '{directory}' is invalid, it needs to be an absolute path"
        )
    return directory
