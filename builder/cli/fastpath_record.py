"""Writing the fast path's record after a full `pybuild build` (see `builder.cli.fastpath`).

A record is written only for a build that the same inputs make again, and
whose inputs can be proved unchanged by `stat` alone: every step keyed
beforehand (no download), no ADD of a URL or a git repository, no secret or
ssh mount, no `!` exception in the ignore file when the context was walked
(an excluded directory is then walked without being listed, so a file
added below it would go unseen), every base image named by a tag, and no
witnessed file changed within the racy window before the build started.
Writing is best effort: a record that cannot be written is no error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import struct
from typing import TYPE_CHECKING, Any

from builder.cli.fastpath import FORMAT, RACY_WINDOW_NS, STAT, Pending

if TYPE_CHECKING:
    from builder.api import BuildResult
    from builder.plan.model import BuildPlan

MAX_RECORDS = 200  #: older records are removed beyond this many
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{4,64}")


def save_record(pending: Pending, result: BuildResult) -> bool:
    """Write the record of this build if it can be replayed; True when written."""
    try:
        record = _record(pending, result)
    except (OSError, ValueError, struct.error):  # a stat out of range, an unreadable file
        return False
    if record is None:
        return False
    path = pending.path
    directory = os.path.dirname(path)
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(temp, "w", encoding="utf-8", errors="surrogateescape") as f:
            json.dump(record, f, separators=(",", ":"))
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    _prune(directory)
    return True


def _record(pending: Pending, result: BuildResult) -> dict[str, Any] | None:
    inputs = result.inputs
    if inputs is None or not inputs.keyed or not _replayable(result.plan):
        return None
    if inputs.context is not None and _has_exceptions(pending):
        return None
    bases = _bases(inputs.bases)
    if bases is None:
        return None
    fresh = pending.started_ns - RACY_WINDOW_NS
    for seen in pending.witnesses.values():
        if seen is not None and max(seen[4], seen[5]) >= fresh:
            return None
    entries = inputs.context or []
    if any(max(e.mtime_ns, e.ctime_ns) >= fresh for e in entries):
        return None
    digest = hashlib.sha256()
    for e in entries:  # as `context_stats` packs what it finds now
        digest.update(STAT.pack(e.mode, e.uid, e.gid, e.size, e.mtime_ns, e.ctime_ns,
                                 e.inode, e.dev))  # fmt: skip
    return {
        "format": FORMAT,
        "witnesses": pending.witnesses,
        "context": [e.relpath for e in entries],
        "context_stats": digest.hexdigest(),
        "image": result.image_id,
        "manifest": result.manifest_digest,
        "names": list(result.tags),
        "bases": bases,
        "steps": _steps(result.plan),
        "exported": list(result.exported),
    }


def _replayable(plan: BuildPlan) -> bool:
    """No step that downloads, nor one that mounts a secret or an ssh agent."""
    from builder.dockerfile.commands import AddCommand, RunCommand
    from builder.solve.copy.kinds import is_remote_source

    for wave in plan.waves:
        for index in wave:
            stage = plan.stages[index]
            if stage.base.kind == "context":
                return False
            for step in stage.steps:
                cmd = step.command
                if isinstance(cmd, AddCommand) and any(map(is_remote_source, cmd.sources)):
                    return False
                if isinstance(cmd, RunCommand) and any(
                    m.type in ("secret", "ssh") for m in cmd.mounts
                ):
                    return False
    return True


def _has_exceptions(pending: Pending) -> bool:
    """Whether the ignore file the build used has `!` patterns (or cannot be read)."""
    from builder.context.dockerignore import read_ignore_lines

    for path in pending.request.ignore_files:
        seen = pending.witnesses.get(path)
        if seen is None or not stat.S_ISREG(seen[0]):
            continue
        try:
            with open(path, "rb") as f:
                lines = read_ignore_lines(f.read())
        except OSError:
            return True
        return any(text.startswith("!") for _, text in lines)
    return False


def _bases(resolved: dict[str, str]) -> list[list[str]] | None:
    """[full tagged name, manifest digest] of each base; None when one is not a plain tag."""
    from builder.image.reference import ReferenceError, parse_tag

    out = []
    for name, manifest in sorted(resolved.items()):
        if "@" in name or _IMAGE_ID.fullmatch(name):
            return None
        try:
            out.append([str(parse_tag(name)), manifest])
        except ReferenceError:
            return None
    return out


def _steps(plan: BuildPlan) -> list[list[Any]]:
    """[vertex, name, cached] of each step a cached build reports (FROM is `DONE`)."""
    steps: list[list[Any]] = []
    for wave in plan.waves:
        for index in wave:
            for step in plan.stages[index].steps:
                if step.vertex is not None:
                    steps.append([step.vertex, step.name, step.kind != "from"])
    return steps


def _prune(directory: str) -> None:
    """Keep the newest `MAX_RECORDS` records."""
    with contextlib.suppress(OSError):
        entries = [e for e in os.scandir(directory) if e.name.endswith(".json")]
        if len(entries) <= MAX_RECORDS:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[: len(entries) - MAX_RECORDS]:
            os.unlink(entry.path)
