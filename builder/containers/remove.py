"""`pybuild rm` and `pybuild container prune`: a container's record and dirs removed.

A running container is stopped first with `force` (its `pybuild run` gets
SIGTERM, kills the container and records the exit, as for Ctrl-C). The
directory is deleted with the mounts below it detached first, so a
container whose `pybuild run` was killed (its overlay still mounted) is
removed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from builder.containers.record import Container, ContainerStore
from builder.errors import ContainerError
from builder.snapshot.trees import remove_tree
from builder.store.owners import owner_of

STOP_SECONDS = 15.0


def _stop(containers: ContainerStore, container: Container) -> None:
    owner = owner_of(f"x-{container.owner}-0")
    if owner is None:
        return
    with contextlib.suppress(OSError):
        os.kill(owner.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        try:
            if not containers.find(container.id).running:
                return
        except ContainerError:
            return
        time.sleep(0.1)
    raise ContainerError(f"could not stop container {container.name}")


def remove_container(containers: ContainerStore, container: Container, *, force: bool) -> None:
    """Delete the container (stopping it first with `force`)."""
    if container.running:
        if not force:
            raise ContainerError(
                f"cannot remove container {container.name}: container is running",
                hint="stop it first, or use rm -f",
            )
        _stop(containers, container)
    directory = containers.directory(container.id)
    with containers.locked():
        remove_tree(directory, ignore_errors=True)
    if directory.exists():
        raise ContainerError(f"could not remove {directory}")


def prune_containers(containers: ContainerStore) -> list[str]:
    """Remove every container that is not running; returns their IDs."""
    removed = []
    for container in containers.all():
        if not container.running:
            remove_container(containers, container, force=False)
            removed.append(container.id)
    return removed
