"""What a step's result depends on (`StepInputs`), read from its typed, expanded command.

The key is made of the parent step's key, the instruction after expansion,
and per kind: for RUN the variables it sees, its network, shell, secret and
ssh ids, the context files its bind mounts select and the keys of the
stages they come from; for COPY/ADD the digests of exactly the context
files it selects (through the stat cache, so unchanged files are not read
again), its heredoc bodies after expansion, and the key of its `--from`
stage. A download without `--checksum` cannot be keyed beforehand. With
SOURCE_DATE_EPOCH set, every step also keys on the epoch.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from builder.dockerfile.commands import AddCommand, CopyCommand, RunCommand
from builder.errors import BuildError
from builder.plan.model import Step
from builder.solve.cache.keys import StepInputs
from builder.solve.copy.kinds import is_remote_source

if TYPE_CHECKING:
    from builder.context.dockerignore import IgnoreMatcher
    from builder.context.statcache import StatCache
    from builder.context.walk import ContextEntry

#: Config-only instructions and WORKDIR: keyed on their expanded text alone.
_TEXT_KINDS = frozenset(
    {"env", "label", "maintainer", "expose", "volume", "user", "stopsignal", "shell", "cmd",
     "entrypoint", "healthcheck", "onbuild", "workdir"}
)  # fmt: skip


class StepKeyer:
    """Computes the inputs of the steps of one build."""

    def __init__(
        self,
        context_dir: Path,
        ignore: IgnoreMatcher | None,
        statcache: StatCache | None,
        *,
        network: str,
        from_key: Callable[[str], str],
        run_inputs: dict[str, str] | None = None,
        epoch: int | None = None,
    ) -> None:
        self.context_dir = context_dir
        self.ignore = ignore
        self.statcache = statcache
        self.network = network  #: the build's default RUN network
        self.from_key = from_key  #: the cache key of a `--from` stage, or an image's digest
        #: what every RUN depends on besides its own text: `--add-host`, `--ulimit`...
        self.run_inputs = dict(run_inputs or {})
        #: SOURCE_DATE_EPOCH: it sets the mtimes and `created` of every step's result
        self.epoch = epoch
        self._lock = threading.Lock()
        self._entries: list[ContextEntry] | None = None

    @property
    def walked(self) -> list[ContextEntry] | None:
        """The context walk the keys were computed from (None: no step read the context)."""
        with self._lock:
            return None if self._entries is None else list(self._entries)

    def inputs(self, parent: str, step: Step, shell: list[str]) -> StepInputs | None:
        """What the step's result depends on; None when that cannot be known beforehand.

        With SOURCE_DATE_EPOCH set, the epoch is one of them: a result cached
        under another epoch (or none) has other mtimes and times than a fresh
        build would give, so it is not reused.
        """
        inputs = self._inputs(parent, step, shell)
        if inputs is not None and self.epoch is not None:
            inputs.extra["source-date-epoch"] = str(self.epoch)
        return inputs

    def _inputs(self, parent: str, step: Step, shell: list[str]) -> StepInputs | None:
        if step.kind == "arg":  # declaring is not using: the value counts where it is used
            return StepInputs(parent, step.instruction)
        if step.kind in _TEXT_KINDS:
            return StepInputs(parent, " ".join([step.kind.upper(), *step.args]))
        cmd = step.command
        if isinstance(cmd, RunCommand):
            return self._run_inputs(parent, step, cmd, shell)
        assert isinstance(cmd, CopyCommand | AddCommand)
        extra = {f"heredoc {h.name}": _sha256(h.content) for h in cmd.heredocs}
        from_ = cmd.from_ if isinstance(cmd, CopyCommand) else None
        files: dict[str, str] = {}
        if from_:
            extra["from"] = self.from_key(from_)
        else:
            remote = [s for s in cmd.sources if is_remote_source(s)]
            if remote:
                if not isinstance(cmd, AddCommand) or cmd.checksum is None:
                    return None  # a download: known only after fetching it
                extra["checksum"] = cmd.checksum
            files = self.context_files([s for s in cmd.sources if s not in remote])
        flags = " ".join(step.flags)
        instruction = " ".join([step.kind.upper(), flags, *step.args]).replace("  ", " ")
        return StepInputs(parent, instruction, files=files, extra=extra)

    def _run_inputs(self, parent: str, step: Step, cmd: RunCommand, shell: list[str]) -> StepInputs:
        from builder.solve.mounts.keys import context_paths, secret_ids, ssh_ids

        extra = {
            "network": self.network if cmd.network == "default" else cmd.network,
            "shell": " ".join(shell),
            **self.run_inputs,
        }
        if secret_ids(cmd.mounts):
            extra["secrets"] = ",".join(sorted(secret_ids(cmd.mounts)))  # ids only, never values
        if ssh_ids(cmd.mounts):
            extra["ssh"] = ",".join(sorted(ssh_ids(cmd.mounts)))
        for mount in cmd.mounts:
            if mount.type == "bind" and mount.from_:
                extra[f"mount from {mount.from_}"] = self.from_key(mount.from_)
        files = self.context_files(list(context_paths(cmd.mounts)))
        heredocs = "".join(h.content for h in cmd.heredocs)
        instruction = " ".join([step.instruction, *step.flags]) + heredocs
        env = {v.name: v.value for v in step.variables}
        return StepInputs(parent, instruction, env=env, files=files, extra=extra)

    def context_files(self, sources: list[str]) -> dict[str, str]:
        """Digests of the context entries `sources` select (a wildcard may select none)."""
        from builder.context.dockerignore import contains_wildcards
        from builder.context.hashing import SourceNotFoundError, selection_digest
        from builder.context.walk import walk_context

        if not sources:
            return {}
        files: dict[str, str] = {}
        with self._lock:
            if self._entries is None:
                self._entries = walk_context(self.context_dir, self.ignore)
            for source in sources:
                try:
                    selection = selection_digest(
                        self.context_dir, [source], self.ignore, self.statcache,
                        entries=self._entries,
                    )  # fmt: skip
                except SourceNotFoundError:
                    if contains_wildcards(source):
                        continue  # BuildKit copies nothing for an empty wildcard
                    raise BuildError(
                        f'failed to compute cache key: "{source}": not found in the build context',
                        hint="check the path, and that .dockerignore does not exclude it",
                    ) from None
                files.update(selection.files)
        return files


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
