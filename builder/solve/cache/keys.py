"""The build cache: what a step's key is made of, its stored result, and why it missed.

A step's key is the sha256 of its inputs (`StepInputs`): the parent step's
key (a stage's first key is the base image's manifest digest), the
instruction after expansion, the variables a RUN sees, the digests of the
context files a COPY/ADD or bind mount selects, and a few extras (the
`--from` stage's key, secret *ids*, the network mode). A secret's value is
never an input.

Results live in the store under `cache/steps/<key>.json`: the layer (or
none, for a step that changed nothing), its diff_id and the time it was
made, so a fully cached rebuild writes the same image. The inputs are kept
with the result, and `cache/last/<step identity>.json` remembers which key a
step had in the previous build of the same Dockerfile, so `--explain-cache`
can say exactly what changed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builder.image.digest import parse_digest
from builder.image.model import Descriptor


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class StepInputs:
    """Everything a step's result depends on."""

    parent: str
    instruction: str
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  #: context relpath -> entry digest
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The inputs as JSON data (shares the dicts: do not modify the result)."""
        return {
            "parent": self.parent,
            "instruction": self.instruction,
            "env": self.env,
            "files": self.files,
            "extra": self.extra,
        }

    def key(self) -> str:
        return "sha256:" + _sha256(json.dumps(self.to_json(), sort_keys=True))

    @classmethod
    def from_json(cls, obj: Any) -> StepInputs | None:
        if not isinstance(obj, dict):
            return None
        try:
            return cls(
                parent=str(obj["parent"]),
                instruction=str(obj["instruction"]),
                env={str(k): str(v) for k, v in obj.get("env", {}).items()},
                files={str(k): str(v) for k, v in obj.get("files", {}).items()},
                extra={str(k): str(v) for k, v in obj.get("extra", {}).items()},
            )
        except (KeyError, AttributeError, TypeError):
            return None


@dataclass(frozen=True)
class CachedStep:
    """A step's stored result: its layer (None when it changed nothing) and creation time."""

    layer: Descriptor | None
    diff_id: str | None
    created: str
    inputs: StepInputs | None = None
    chain: str | None = None  #: the layer's chain ID in the build that made it (prune keeps it)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per thread too: parallel stages may store the same key at once
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(json.dumps(obj, sort_keys=True))
    os.replace(temp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class BuildCache:
    """Step results under `<store>/cache/`; unreadable entries count as misses."""

    def __init__(self, root: Path):
        self.steps = root / "steps"
        self.last = root / "last"
        self.locks = root / "locks"

    def _step_path(self, key: str) -> Path:
        return self.steps / (parse_digest(key).split(":", 1)[1] + ".json")

    def get(self, key: str) -> CachedStep | None:
        obj = _read_json(self._step_path(key))
        if not isinstance(obj, dict):
            return None
        try:
            layer = Descriptor.from_json(obj["layer"]) if obj.get("layer") else None
            diff_id = parse_digest(obj["diff_id"]) if layer is not None else None
            created = str(obj.get("created", ""))
        except (KeyError, TypeError, ValueError, Exception):
            return None
        return CachedStep(layer, diff_id, created, StepInputs.from_json(obj.get("inputs")))

    def put(self, key: str, result: CachedStep, inputs: StepInputs, identity: str) -> None:
        _write_json(
            self._step_path(key),
            {
                "layer": result.layer.to_json() if result.layer is not None else None,
                "diff_id": result.diff_id,
                "chain": result.chain,
                "created": result.created,
                "inputs": inputs.to_json(),
            },
        )
        self.remember(identity, key)

    @contextmanager
    def lock(self, key: str, stop: threading.Event) -> Iterator[bool]:
        """Hold the lock of step `key` while it runs: one build runs it, the others wait.

        Builds in threads of one process and in other processes alike (an
        flock on `locks/<key>`, one open file each): two builds that miss
        the same key at once would both run the step; the second waits here
        instead, then finds the first one's result. Yields False, without
        the lock, when `stop` is set while waiting (the build is stopping).
        """
        self.locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            self.locks / parse_digest(key).split(":", 1)[1],
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
            0o600,
        )
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if stop.wait(0.05):
                    yield False
                    return
            yield True
        finally:
            os.close(fd)  # releases the lock

    def remember(self, identity: str, key: str) -> None:
        """Record `key` as this step's key in the latest build."""
        _write_json(self.last / f"{_sha256(identity)}.json", {"key": key})

    def previous_inputs(self, identity: str) -> StepInputs | None:
        """The inputs this step had in the previous build, if any is known."""
        obj = _read_json(self.last / f"{_sha256(identity)}.json")
        if not isinstance(obj, dict) or not isinstance(obj.get("key"), str):
            return None
        try:
            path = self._step_path(obj["key"])
        except Exception:
            return None
        stored = _read_json(path)
        return StepInputs.from_json(stored.get("inputs")) if isinstance(stored, dict) else None

    def referenced(self) -> tuple[set[str], set[str]]:
        """Blob digests and diff_ids the cached steps use (so prune keeps them)."""
        blobs: set[str] = set()
        diff_ids: set[str] = set()
        if not self.steps.is_dir():
            return blobs, diff_ids
        for path in self.steps.glob("*.json"):
            obj = _read_json(path)
            if isinstance(obj, dict) and isinstance(obj.get("layer"), dict):
                digest = obj["layer"].get("digest")
                if isinstance(digest, str):
                    blobs.add(digest)
                if isinstance(obj.get("diff_id"), str):
                    diff_ids.add(obj["diff_id"])
        return blobs, diff_ids


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def explain_miss(
    current: StepInputs, previous: StepInputs | None, *, parent_missed: str | None
) -> list[str]:
    """Why a step missed, one reason per line, the root cause first."""
    if previous is None:
        return ["no earlier build of this step is in the cache"]
    reasons: list[str] = []
    if current.parent != previous.parent:
        if parent_missed is not None:
            reasons.append(f"an earlier step missed first: {parent_missed}")
        else:
            reasons.append(
                f"the base changed: {_short(previous.parent)} -> {_short(current.parent)}"
            )
    if current.instruction != previous.instruction:
        reasons.append(f"instruction changed: {previous.instruction!r} -> {current.instruction!r}")
    for name in sorted(set(current.env) | set(previous.env)):
        old, new = previous.env.get(name), current.env.get(name)
        if old != new:
            before = "(unset)" if old is None else repr(old)
            after = "(unset)" if new is None else repr(new)
            reasons.append(f"variable {name} changed: {before} -> {after}")
    for path in sorted(set(current.files) | set(previous.files)):
        old, new = previous.files.get(path), current.files.get(path)
        if old == new:
            continue
        if old is None:
            reasons.append(f"file added: {path}")
        elif new is None:
            reasons.append(f"file removed: {path}")
        else:
            reasons.append(f"file changed: {path} ({_short(old)} -> {_short(new)})")
    for name in sorted(set(current.extra) | set(previous.extra)):
        old, new = previous.extra.get(name), current.extra.get(name)
        if old != new:
            reasons.append(f"{name} changed: {old or '(none)'} -> {new or '(none)'}")
    return reasons or ["the cached result is gone (pruned) or unreadable"]
