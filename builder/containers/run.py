"""`pybuild run`: a container from a stored image, on the sandbox RUN steps use.

The image's snapshots are the overlay lower dirs; the container's upper dir
(`<container>/rootfs/upper`) keeps its changes after it exits, for `diff`
and `commit`, unless `remove` (`--rm`). The runtime container itself is
transient (`builder.runtime.container.run`): its id carries this process's
owner tag, so a later command cleans up after a killed `pybuild run`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.containers.command import container_command, container_env, working_dir
from builder.containers.names import generated_name, is_valid_name
from builder.containers.record import Container, ContainerStore, now
from builder.containers.volumes import parse_volume
from builder.errors import BuildError, ContainerError, PybuildError
from builder.image.digest import chain_ids
from builder.runtime.spec import NETWORK_MODES, NetworkMode
from builder.snapshot.trees import remove_tree
from builder.store import Store
from builder.store.owners import current_owner

if TYPE_CHECKING:
    from builder.runtime.console import Terminal

#: what the runtime logs when the command cannot be run: docker's exit codes
_NOT_FOUND = ("executable file not found", "no such file or directory")
_CANNOT_EXEC = ("permission denied", "exec format error", "is a directory")


@dataclass(frozen=True)
class RunOptions:
    """`pybuild run`'s options, as given."""

    image: str
    command: list[str] = field(default_factory=list)
    name: str | None = None
    env: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    network: str = "host"
    entrypoint: str | None = None
    remove: bool = False
    runtime: str = "runc"


@dataclass(frozen=True)
class RunOutcome:
    container: Container
    exit_code: int
    cancelled: bool


def _runtime_failure(error: BuildError) -> ContainerError:
    """The runtime could not start the command: 127 not found, 126 cannot exec, else 125."""
    text = error.message.lower()
    if any(marker in text for marker in _NOT_FOUND):
        code = 127
    elif any(marker in text for marker in _CANNOT_EXEC):
        code = 126
    else:
        code = 125
    return ContainerError(error.message, error.hint, exit_code=code)


def _network(value: str) -> NetworkMode:
    if value not in NETWORK_MODES:
        raise ContainerError(
            f"--network {value!r} is not supported", hint="use host, none or default"
        )
    return "host" if value == "host" else "none" if value == "none" else "default"


def run_container(
    store: Store,
    options: RunOptions,
    *,
    output: Callable[[bytes], None],
    stdin: int | None = None,
    cancel: threading.Event | None = None,
    terminal: Terminal | None = None,
) -> RunOutcome:
    """Create and run a container; its record is saved before it starts and after it ends.

    With `terminal` (`-t`) the command gets a pseudo-terminal relayed to it, and
    `TERM=xterm` unless the environment sets TERM, as docker does.

    Raises ContainerError (125, 126, 127) when it cannot start. A cancelled
    run (`cancel` set) kills the container and returns with `cancelled`.
    """
    from builder.runtime.container import RunCancelledError, run
    from builder.runtime.rootpath import mkdir_in_root
    from builder.runtime.spec import RunSpec
    from builder.runtime.users import resolve_user
    from builder.snapshot.overlay import overlay_root

    network = _network(options.network)
    if options.name is not None and not is_valid_name(options.name):
        raise ContainerError(
            f"Invalid container name ({options.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    mounts = [parse_volume(v) for v in options.volumes]
    containers = ContainerStore(store.root)
    with store.lease():  # until the record lists the image's blobs, prune could take them
        record = store.resolve(options.image)
        config = store.config(record)
        manifest = store.manifest(record)
        lowers = store.ensure_snapshots(record)
        image = config.config
        container = Container(
            id=ContainerStore.new_id(),
            name=options.name or "",
            image=record.id,
            image_name=options.image,
            manifest=record.manifest_digest,
            command=container_command(image, options.command, options.entrypoint),
            created=now(),
            env=container_env(image.env, options.env),
            working_dir=working_dir(image, options.workdir),
            user=options.user if options.user is not None else image.user,
            runtime=options.runtime,
            blobs=[
                record.manifest_digest,
                record.config_digest,
                *(d.digest for d in manifest.layers),
            ],
            chains=chain_ids(config.diff_ids),
            network=network,
            mounts=[m.source for m in mounts],
        )
        with containers.locked():
            container.name = container.name or generated_name(containers.names())
            directory = containers.create(container)
    try:
        with overlay_root(lowers, directory / "rootfs") as mounted:
            root = mounted.merged
            user = resolve_user(root, container.user)
            mkdir_in_root(root, container.working_dir, user.uid, user.gid)
            env = [*container.env, f"HOSTNAME={container.short_id}"]
            if terminal is not None and not any(e.startswith("TERM=") for e in env):
                env.append("TERM=xterm")
            spec = RunSpec(
                args=container.command,
                env=env,
                cwd=container.working_dir,
                user=user,
                hostname=container.short_id,
                network=network,
                mounts=mounts,
                no_new_privileges=False,  # docker's default: setuid binaries work
                terminal=terminal is not None,
                console_size=terminal.window_size() if terminal is not None else None,
            )
            container.state, container.owner = "running", current_owner().tag
            containers.save(container)
            try:
                result = run(
                    root, spec, runtime=options.runtime, output=output, stdin=stdin,
                    cancel=cancel, work_dir=directory / "bundle", terminal=terminal,
                    state_root=store.runtime_root(options.runtime), owner=container.owner,
                )  # fmt: skip
                exit_code, cancelled = result.exit_code, False
            except RunCancelledError:
                exit_code, cancelled = 130, True
            except BuildError as error:
                raise _runtime_failure(error) from None
    except PybuildError as error:
        _finish(containers, container, error.exit_code, options.remove, lowers)
        raise
    except BaseException:
        _finish(containers, container, None, options.remove, lowers)
        raise
    _finish(containers, container, exit_code, options.remove, lowers)
    return RunOutcome(container, exit_code, cancelled)


def _drop_copied_up_dirs(upper: Path, lowers: list[Path]) -> None:
    """Remove dirs the runtime's mount points copied up (/etc for /etc/hosts), as RUN does."""
    from builder.snapshot.diff import prune_unchanged_dirs

    with contextlib.suppress(OSError, PybuildError):
        if upper.is_dir():
            prune_unchanged_dirs(upper, lowers)


def _finish(
    containers: ContainerStore,
    container: Container,
    exit_code: int | None,
    remove: bool,
    lowers: list[Path],
) -> None:
    """Record the end (None: interrupted, 128), or remove it all with `remove`."""
    directory = containers.directory(container.id)
    if remove:
        remove_tree(directory, ignore_errors=True)
        return
    remove_tree(directory / "bundle", ignore_errors=True)
    _drop_copied_up_dirs(directory / "rootfs" / "upper", lowers)
    container.state, container.owner = "exited", ""
    container.exit_code = 128 if exit_code is None else exit_code
    container.finished = now()
    containers.save(container)


def directory_of(store: Store, container: Container) -> Path:
    return ContainerStore(store.root).directory(container.id)
