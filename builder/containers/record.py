"""Container records: `<store>/containers/<id>/container.json`, found by name, ID or prefix.

A record names the image it was made from (image ID, manifest) and lists
the blobs and snapshot chain IDs that image uses: `prune` keeps them while
the container exists (`builder/store/gc.py` reads these two lists), even
after `rmi`. Records are written atomically (temp file, rename) under
`locks/containers.lock`; the process running a container is recorded as its
`owner` (`<pid>-<start>`), so a container whose `pybuild run` was killed
shows as exited.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from builder.errors import ContainerError, ContainerNotFoundError
from builder.store.files import store_error
from builder.store.locks import file_lock
from builder.store.owners import is_alive, owner_of

State = Literal["created", "running", "exited"]
RECORD = "container.json"
DIR_MODE = 0o700


def now() -> str:
    """Now as image configs write times (RFC 3339, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Container:
    """One container's record."""

    id: str
    name: str
    image: str  #: the image ID (config digest)
    image_name: str  #: the image as given to `run`
    manifest: str  #: the image's manifest digest
    command: list[str]
    created: str
    state: State = "created"
    exit_code: int | None = None
    finished: str = ""
    owner: str = ""  #: `<pid>-<start>` of the `pybuild run` process while it runs
    env: list[str] = field(default_factory=list)
    working_dir: str = "/"
    user: str = ""
    runtime: str = "runc"
    blobs: list[str] = field(default_factory=list)  #: kept by prune while the record exists
    chains: list[str] = field(default_factory=list)  #: snapshot chain IDs, kept likewise
    network: str = "host"  #: `--network`
    mounts: list[str] = field(default_factory=list)  #: `-v` host paths (ps's MOUNTS)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        """Running, and its `pybuild run` process still alive (a killed one's is not)."""
        if self.state != "running":
            return False
        owner = owner_of(f"x-{self.owner}-0")
        return owner is not None and is_alive(owner)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Container:
        if not isinstance(data, dict):
            raise ValueError("not an object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ContainerStore:
    """The containers of one store root."""

    def __init__(self, root: Path) -> None:
        self.root = root / "containers"
        self._lock = root / "locks" / "containers.lock"

    def directory(self, container_id: str) -> Path:
        return self.root / container_id

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive: names are checked and taken, records removed, one process at a time."""
        try:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as err:
            raise store_error(err, f"creating {self.root}") from None
        with file_lock(self._lock):
            yield

    def all(self) -> list[Container]:
        """Every readable record, newest first."""
        found = []
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        for name in names:
            try:
                data = json.loads((self.root / name / RECORD).read_text())
                found.append(Container.from_json(data))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(found, key=lambda c: c.created, reverse=True)

    def find(self, text: str) -> Container:
        """By name, full ID or unambiguous ID prefix, as docker finds containers."""
        every = self.all()
        for container in every:
            if text in (container.id, container.name) or text == "/" + container.name:
                return container
        matches = [c for c in every if text and c.id.startswith(text)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ContainerError(f"multiple containers match the ID prefix {text!r}")
        raise ContainerNotFoundError(f"No such container: {text}")

    def create(self, container: Container) -> Path:
        """Take the name and write the first record (call under `locked`); returns its dir."""
        taken = {c.name for c in self.all()}
        if container.name in taken:
            raise ContainerError(
                f'Conflict. The container name "/{container.name}" is already in use',
                hint="remove that container (pybuild rm) or choose another --name",
            )
        directory = self.directory(container.id)
        try:
            directory.mkdir(mode=DIR_MODE)
        except OSError as err:
            raise store_error(err, f"creating {directory}") from None
        self.save(container)
        return directory

    def save(self, container: Container) -> None:
        """Rewrite the record atomically."""
        path = self.directory(container.id) / RECORD
        temp = path.with_name(f".{RECORD}.{secrets.token_hex(4)}")
        try:
            temp.write_text(json.dumps(container.to_json(), indent=1) + "\n")
            os.replace(temp, path)
        except OSError as err:
            temp.unlink(missing_ok=True)
            raise store_error(err, f"writing {path}") from None

    def names(self) -> set[str]:
        return {c.name for c in self.all()}

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(32)
