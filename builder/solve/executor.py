"""Run a build plan: every stage's steps, in order, into layers and an image.

Each stage starts from its base (an image from the store, another stage, or
scratch) and keeps a `StageState`: the image config being written, the
layers so far and their snapshot dirs. A step that touches files (RUN,
COPY, ADD, WORKDIR) mounts an overlayfs root over those snapshots, does its
work, and commits the upper dir as a layer; a step that only changes the
config (ENV, CMD...) adds a history entry marked `empty_layer`. The image
of the target stage goes into the store under the requested tags.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from builder.dockerfile.commands import AddCommand, CopyCommand, Heredoc, RunCommand, parse_mount
from builder.errors import BuildError, Location, PybuildError
from builder.image import mediatypes
from builder.image.digest import chain_ids
from builder.image.model import Descriptor, History, ImageConfig, Manifest
from builder.plan.model import BuildPlan, PlannedStage, Step
from builder.solve.cache.keys import BuildCache, CachedStep, StepInputs, explain_miss
from builder.solve.cache.types import UsedStep
from builder.solve.metadata import (
    CONFIG_ONLY_KINDS,
    HISTORY_COMMENT,
    StageConfig,
    apply_config_step,
    copy_history,
    resolve_workdir,
    run_history,
    start_stage,
)
from builder.solve.progress import (
    BuildStarted,
    Reporter,
    StepDone,
    StepFailed,
    StepLog,
    StepOutput,
    StepStarted,
    no_progress,
)
from builder.solve.request import SolveRequest, SolveResult

if TYPE_CHECKING:
    from builder.context.dockerignore import IgnoreMatcher
    from builder.context.statcache import StatCache
    from builder.context.walk import ContextEntry
    from builder.runtime.spec import Mount
    from builder.runtime.users import ResolvedUser
    from builder.snapshot.overlay import OverlayRoot
    from builder.solve.mounts.run import MountSources
    from builder.store import ImageRecord, Store


@dataclass
class StageState:
    """A stage as far as it has run."""

    config: StageConfig
    layers: list[Descriptor] = field(default_factory=list)
    snapshots: list[Path] = field(default_factory=list)  #: overlay lower dirs, base first
    key: str = ""  #: cache key of the last step (the base's manifest digest at FROM)
    missed: str | None = None  #: the first step of this stage's chain that missed the cache

    def copy(self) -> StageState:
        image = ImageConfig.from_bytes(self.config.image.to_bytes())
        config = StageConfig(image, self.config.cmd_set, list(self.config.arg_names))
        return StageState(config, list(self.layers), list(self.snapshots), self.key, self.missed)


def build(store: Store, request: SolveRequest, *, progress: Reporter = no_progress) -> SolveResult:
    """Build `request` into `store`; raise a PybuildError (BuildError for a failing step)."""
    with store.lease():
        return _Build(store, request, progress).run()


def default_jobs() -> int:
    """Stages run at once by default: the CPU count, but at least 4.

    A stage mostly waits (on downloads, `sleep`, the disk), so two cores can
    serve four stages; BuildKit sets no limit at all.
    """
    return max(4, os.cpu_count() or 1)


def _now(epoch: int | None) -> str:
    when = datetime.fromtimestamp(epoch, UTC) if epoch is not None else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_heredoc(text: str, env: dict[str, str]) -> str:
    """`$VAR` and `${VAR}` in a COPY/ADD heredoc body, quotes left alone (as BuildKit does)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def parse_step_flags(flags: list[str]) -> dict[str, list[str]]:
    """`["--chown=a", "--link"]` -> {"chown": ["a"], "link": [""]}."""
    out: dict[str, list[str]] = {}
    for flag in flags:
        name, _, value = flag.removeprefix("--").partition("=")
        out.setdefault(name, []).append(value)
    return out


def _last(flags: dict[str, list[str]], name: str) -> str | None:
    """The value of the last `--name=...` flag, or None."""
    values = flags.get(name)
    return values[-1] if values else None


def mkdir_in_root(root: Path, path: str, uid: int = 0, gid: int = 0) -> bool:
    """`mkdir -p` inside `root` without following symlinks out of it; True if it made any."""
    from builder.runtime.rootpath import resolve_in_root

    where = resolve_in_root(root, path)
    if not where.missing:
        return False
    current = root.joinpath(*where.existing)
    for part in where.missing:
        current = current / part
        os.mkdir(current, 0o755)
        os.chown(current, uid, gid)
    return True


class _Build:
    def __init__(self, store: Store, request: SolveRequest, progress: Reporter):
        self.store = store
        self.request = request
        self.progress = progress
        self.lines = request.dockerfile.decode("utf-8", "replace").split("\n")
        self.stages: dict[int, StageState] = {}
        self.ignore: IgnoreMatcher | None = None
        self.plan: BuildPlan | None = None
        self.base_records: dict[str, ImageRecord] = {}
        self.base_lock = threading.Lock()
        self.cache = BuildCache(store.cache_root)
        #: set when one stage fails (the others stop) or by the caller (everything stops)
        self.cancel = request.cancel if request.cancel is not None else threading.Event()
        self.context_lock = threading.Lock()
        self.context_entries: list[ContextEntry] | None = None
        self.statcache: StatCache | None = None
        self.used: list[tuple[str, CachedStep, StepInputs, int]] = []
        self.used_lock = threading.Lock()

    # --- the whole build --------------------------------------------------------------

    def run(self) -> SolveResult:
        from builder.context.dockerignore import DockerignoreError, load_ignore_patterns
        from builder.dockerfile.parser import parse
        from builder.plan.graph import plan

        dockerfile = parse(self.request.dockerfile, self.request.dockerfile_name)
        self.plan = plan(
            dockerfile,
            target=self.request.target,
            build_args=self.request.build_args,
            platform=self.request.platform,
            environ=self.request.environ,
            base_image=self._base_config,
        )
        try:
            self.ignore = load_ignore_patterns(
                self.request.context_dir, self.request.dockerfile_path
            )
        except DockerignoreError as err:
            raise BuildError(f".dockerignore: {err}") from None
        from builder.context.statcache import StatCache

        self.statcache = StatCache.for_context(
            self.store.cache_root / "context", self.request.context_dir
        )
        jobs = self.request.jobs or default_jobs()
        self.progress(
            BuildStarted(
                sum(1 for w in self.plan.waves for i in w for s in self.plan.stages[i].steps
                    if s.vertex is not None)
            )
        )  # fmt: skip
        for wave in self.plan.waves:
            self._run_wave([self.plan.stages[i] for i in wave], jobs)
        self.statcache.save()
        final = self.stages[self.plan.target]
        used = self._used_steps()
        from builder.solve.cache.format import INLINE_CACHE_KEY

        final.config.image.extra.pop(INLINE_CACHE_KEY, None)  # never a base image's records
        if self.request.inline_cache:
            from builder.solve.cache.remote import embed_inline_cache

            embed_inline_cache(final.config.image, used)
        record = self._write_image(final)
        return SolveResult(record, final.config.image, self.plan, used)

    def _run_wave(self, stages: list[PlannedStage], jobs: int) -> None:
        """Run stages that do not depend on each other, up to `jobs` at once.

        The first failure stops the others (their running step is killed) and
        is the error reported.
        """
        if len(stages) == 1 or jobs == 1:
            for stage in stages:
                self.stages[stage.index] = self._run_stage(stage)
            return
        from concurrent.futures import ThreadPoolExecutor, as_completed

        first: BaseException | None = None
        with ThreadPoolExecutor(max_workers=min(jobs, len(stages))) as pool:
            futures = {pool.submit(self._run_stage, stage): stage for stage in stages}
            for future in as_completed(futures):
                try:
                    self.stages[futures[future].index] = future.result()
                except BaseException as err:  # the first failure is re-raised below
                    if first is None:
                        first = err
                        self.cancel.set()
        if first is not None:
            raise first

    def _location(self, line: int) -> Location:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return Location(self.request.dockerfile_name, line, source_line=source)

    def _where(self, step: Step) -> str:
        return f"{self.request.dockerfile_name}:{step.line}"

    # --- bases -------------------------------------------------------------------------

    def _base_record(self, name: str) -> ImageRecord:
        """A base image from the store, pulled when missing (as docker build does)."""
        with self.base_lock:
            return self._base_record_locked(name)

    def _base_record_locked(self, name: str) -> ImageRecord:
        if name in self.base_records:
            return self.base_records[name]
        record = None if self.request.pull else self.store.find(name)
        if record is None:
            from builder.registry.pull import pull

            try:
                record = pull(self.store, name)
            except PybuildError as err:
                raise BuildError(
                    f'base image "{name}" is not in the local store, and pulling it failed: '
                    f"{err.message}",
                    hint="import it (`pybuild import ROOTFS.tar NAME`), load it "
                    "(`pybuild load -i FILE`), or pull it from a registry you can reach",
                ) from None
        self.base_records[name] = record
        return record

    def _base_config(self, name: str) -> ImageConfig | None:
        if name == "scratch":
            return None
        return self.store.config(self._base_record(name))

    def _start(self, stage: PlannedStage) -> StageState:
        base = stage.base
        if base.kind == "stage" and base.stage_index is not None:
            return self.stages[base.stage_index].copy()
        if base.kind == "scratch":
            from builder.image.platform import parse_platform

            assert self.plan is not None
            platform = parse_platform(stage.platform or self.plan.platform)
            image = ImageConfig(
                architecture=platform.architecture, os=platform.os, variant=platform.variant
            )
            return StageState(start_stage(image), key=f"scratch:{platform}")
        record = self._base_record(base.name)
        config = self.store.config(record)
        state = StageState(start_stage(config), key=record.manifest_digest)
        state.config.image.config.on_build = None  # triggers run once, in this build
        state.layers = list(self.store.manifest(record).layers)
        state.snapshots = self.store.ensure_snapshots(record)
        return state

    # --- one stage ---------------------------------------------------------------------

    def _run_stage(self, stage: PlannedStage) -> StageState:
        state: StageState | None = None
        for position, step in enumerate(stage.steps):
            if self.cancel.is_set():
                raise BuildError("cancelled: another stage failed")
            started = time.monotonic()
            if step.vertex is not None:
                self.progress(StepStarted(step.vertex, step.name))
            cached = False
            try:
                if step.kind == "from":
                    state = self._start(stage)
                else:
                    assert state is not None
                    cached = self._step(state, step, stage, position)
            except PybuildError as err:
                if step.vertex is not None:
                    seconds = time.monotonic() - started
                    self.progress(StepFailed(step.vertex, err.message, seconds=seconds))
                if err.location is None and step.kind != "from":
                    err.location = self._location(step.line)
                raise
            if step.vertex is not None:
                self.progress(StepDone(step.vertex, time.monotonic() - started, cached=cached))
        assert state is not None
        return state

    def _step(self, state: StageState, step: Step, stage: PlannedStage, position: int) -> bool:
        """Run one step, or reuse its cached result; True when it came from the cache."""
        identity = "\0".join(
            [str(self.request.context_dir.resolve()), self.request.dockerfile_name,
             str(stage.index), str(position)]
        )  # fmt: skip
        with ExitStack() as stack:  # read-only mounts the step needs (`--from`), undone after it
            inputs = self._inputs(state, step)
            key = inputs.key() if inputs is not None else None
            use_cache = key is not None and not self._no_cache(stage)
            hit = self._lookup(key) if use_cache and key is not None else None
            if hit is not None and self._restore_safely(state, step, hit):
                assert key is not None and inputs is not None
                state.key = key
                if self.cache.get(key) is None:  # found remotely: keep it here too
                    self.cache.put(key, hit, inputs, identity)
                else:
                    self.cache.remember(identity, key)
                self._use(key, hit, inputs, stage)
                return True
            if inputs is not None and step.vertex is not None and self.request.explain_cache:
                previous = self.cache.previous_inputs(identity)
                for reason in explain_miss(inputs, previous, parent_missed=state.missed):
                    self.progress(StepLog(step.vertex, f"cache miss: {reason}"))
            if state.missed is None and step.kind not in CONFIG_ONLY_KINDS:
                state.missed = step.name or f"line {step.line}: {step.instruction}"
            result = self._dispatch(state, step, stack)
            if inputs is not None and key is not None:
                self.cache.put(key, result, inputs, identity)
                state.key = key
                self._use(key, result, inputs, stage)
            else:  # not cacheable (a download): later steps key on what it produced
                state.key = StepInputs(state.key, step.instruction,
                                       extra={"result": result.diff_id or ""}).key()  # fmt: skip
        return False

    def _lookup(self, key: str) -> CachedStep | None:
        """The local cache first, then each `--cache-from` source in order."""
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        for remote in self.request.cache_from:
            hit = remote.lookup(key)
            if hit is None:
                continue
            layer = hit.layer
            if layer is None or self.store.has_blob(layer.digest):
                return hit
            if remote.fetch_layer(self.store, layer):
                return hit
        return None

    def _use(self, key: str, result: CachedStep, inputs: StepInputs, stage: PlannedStage) -> None:
        with self.used_lock:
            self.used.append((key, result, inputs, stage.index))

    def _used_steps(self) -> list[UsedStep]:
        """Every keyed step, marked when it belongs to the final image's chain."""
        assert self.plan is not None
        chain: set[int] = set()
        index: int | None = self.plan.target
        while index is not None:  # the target and the stages it is built FROM
            chain.add(index)
            base = self.plan.stages[index].base
            index = base.stage_index if base.kind == "stage" else None
        return [
            UsedStep(key, result, inputs, stage, stage in chain)
            for key, result, inputs, stage in self.used
        ]

    def _no_cache(self, stage: PlannedStage) -> bool:
        if self.request.no_cache:
            return True
        names = {stage.display_name, str(stage.index)}
        return any(f.lower() in names for f in self.request.no_cache_filter)

    def _dispatch(self, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
        where = self._where(step)
        if step.kind in CONFIG_ONLY_KINDS:
            created = _now(self.request.source_date_epoch)
            text = apply_config_step(state.config, step, where)
            if text is not None:
                self._history(state, text, empty=True, created=created)
            return CachedStep(None, None, created)
        if step.kind == "workdir":
            return self._workdir(state, step)
        if step.kind == "run":
            return self._run(state, step, stack)
        if step.kind in ("copy", "add"):
            return self._copy(state, step, stack)
        raise BuildError(f"{where}: {step.kind.upper()} cannot be built")

    def _history(self, state: StageState, text: str, *, empty: bool, created: str) -> None:
        state.config.image.history.append(
            History(created=created, created_by=text, comment=HISTORY_COMMENT, empty_layer=empty)
        )

    # --- steps that change files ----------------------------------------------------------

    @contextmanager
    def _step_work(self) -> Iterator[Path]:
        """A private work dir in the store's tmp/, deleted at the end (after the commit)."""
        from builder.snapshot.overlay import remove_work_dir

        work = self.store.temp_dir("step")
        try:
            yield work
        finally:
            remove_work_dir(work)

    @staticmethod
    def _mounted(state: StageState, work: Path) -> AbstractContextManager[OverlayRoot]:
        """A writable overlay over the stage at `work/merged`; changes land in `work/upper`."""
        from builder.snapshot.overlay import overlay_root

        return overlay_root(state.snapshots, work)

    def _user(self, root: Path, state: StageState) -> ResolvedUser:
        from builder.runtime.users import resolve_user

        return resolve_user(root, state.config.image.config.user)

    def _workdir(self, state: StageState, step: Step) -> CachedStep:
        config = state.config.image.config
        config.working_dir = resolve_workdir(config.working_dir, step.args[0])
        text = f"WORKDIR {config.working_dir}"
        with self._step_work() as work:
            with self._mounted(state, work) as mounted:
                user = self._user(mounted.merged, state)
                mkdir_in_root(mounted.merged, config.working_dir, user.uid, user.gid)
            return self._commit(state, work / "upper", text)

    def _run(self, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
        from builder.runtime.container import run
        from builder.runtime.spec import RunSpec
        from builder.solve.mounts.run import prepare_mounts

        cmd = step.command
        assert isinstance(cmd, RunCommand)
        config = state.config.image.config
        flags = parse_step_flags(step.flags)
        wanted = _last(flags, "network") or "default"
        wanted = self.request.network if wanted == "default" else wanted
        if wanted not in ("host", "none"):
            raise BuildError(f"RUN --network={wanted} is not supported (use host or none)")
        network: Literal["host", "none"] = "host" if wanted == "host" else "none"
        insecure = _last(flags, "security") == "insecure"
        if insecure and not self.request.allow_insecure:
            raise BuildError(
                "RUN --security=insecure is not allowed",
                hint="pass --allow security.insecure to pybuild build",
            )
        mounts = [parse_mount(value) for value in flags.get("mount", [])]
        # the plan's variables are BuildKit's RUN environment: image env, ENV, ARG, in order
        env = [f"{v.name}={v.value}" for v in step.variables]
        tail: collections.deque[str] = collections.deque(maxlen=10)
        pending = b""

        def output(data: bytes) -> None:
            nonlocal pending
            if step.vertex is not None:
                self.progress(StepOutput(step.vertex, data))
            pending += data
            *lines, pending = pending.split(b"\n")
            tail.extend(line.decode("utf-8", "replace") for line in lines)

        with self._step_work() as work:
            with self._mounted(state, work) as mounted:
                root = mounted.merged
                user = self._user(root, state)
                cwd = config.working_dir or "/"
                mkdir_in_root(root, cwd)
                args, heredoc_mounts = self._run_args(state, cmd, work)
                with prepare_mounts(
                    mounts, self._mount_sources(stack), work_dir=work / "mounts", workdir=cwd,
                    step_env=env, insecure=insecure, cancel=self.cancel,
                ) as (run_mounts, extra_env):  # fmt: skip
                    spec = RunSpec(
                        args=args,
                        env=_with_env(env, extra_env),
                        cwd=cwd,
                        user=user,
                        network=network,
                        mounts=[*heredoc_mounts, *run_mounts],
                        insecure=insecure,
                    )
                    result = run(
                        root, spec, runtime=self.request.runtime, output=output,
                        work_dir=work / "bundle", cancel=self.cancel,
                    )  # fmt: skip
            if pending:
                tail.append(pending.decode("utf-8", "replace"))
            if result.exit_code != 0:
                raise BuildError(
                    f'process "{" ".join(args)}" did not complete successfully: '
                    f"exit code: {result.exit_code}",
                    self._location(step.line),
                    hint=("last output lines:\n" + "\n".join(f"  {t}" for t in tail))
                    if tail
                    else None,
                )
            return self._commit(state, work / "upper", run_history(state.config, step, args))

    @staticmethod
    def _run_args(state: StageState, cmd: RunCommand, work: Path) -> tuple[list[str], list[Mount]]:
        """The process's argv, and a mount for a heredoc script with a `#!` line."""
        from builder.runtime.spec import Mount

        args, script = _run_argv(state.config.shell, cmd)
        if script is None:
            return args, []
        scripts = work / "heredocs"
        scripts.mkdir(exist_ok=True)
        path = scripts / "script"
        path.write_text(script)
        path.chmod(0o755)
        return args, [Mount(args[0], "bind", str(path), ("rbind", "ro"))]

    def _mount_sources(self, stack: ExitStack) -> MountSources:
        from builder.solve.mounts.run import MountSources

        return MountSources(
            context_dir=self.request.context_dir,
            ignore=self.ignore,
            stage_root=lambda name: self._readonly_root(name, stack),
            secrets=self.request.secrets,
            ssh=self.request.ssh,
            cache_root=self.store.cache_root,
        )

    def _readonly_root(self, name: str, stack: ExitStack) -> Path:
        """A read-only tree of a stage (by name or index) or an image, for `--from`."""
        from builder.snapshot.overlay import overlay_root, remove_work_dir

        lowers = self._lowers_of(name)
        work = self.store.temp_dir("from")
        stack.callback(remove_work_dir, work)
        return stack.enter_context(overlay_root(lowers, work, writable=False)).merged

    def _lowers_of(self, name: str) -> list[Path]:
        assert self.plan is not None
        try:
            stage = self.plan.stage(int(name) if name.isdigit() else name)
        except (KeyError, IndexError):
            stage = None
        if stage is not None and stage.index in self.stages:
            return list(self.stages[stage.index].snapshots)
        return self.store.ensure_snapshots(self._base_record(name))

    def _copy(self, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
        from builder.solve.copy.add import add_into
        from builder.solve.copy.files import InlineFile, copy_into

        cmd = step.command
        assert isinstance(cmd, CopyCommand | AddCommand)
        flags = parse_step_flags(step.flags)
        heredocs = cmd.heredocs
        dest = step.args[-1]
        sources = step.args[: len(step.args) - 1 - len(heredocs)]
        env = dict(item.partition("=")[::2] for item in state.config.image.config.env)
        env.update({v.name: v.value for v in step.variables})
        inline = [
            InlineFile(
                h.name,
                (expand_heredoc(_chomp(h), env) if h.expand else _chomp(h)).encode(),
            )
            for h in heredocs
        ]
        chown = _last(flags, "chown")
        chmod = _last(flags, "chmod")
        link = "link" in flags and chmod is None  # BuildKit drops --link with --chmod
        workdir = state.config.image.config.working_dir or "/"
        epoch_ns = (
            self.request.source_date_epoch * 1_000_000_000
            if self.request.source_date_epoch is not None
            else None
        )
        text = copy_history(step)
        from_ = _last(flags, "from")
        src_root = self._readonly_root(from_, stack) if from_ else self.request.context_dir
        with self._step_work() as work:
            with self._mounted(state, work) as mounted:
                root = mounted.merged
                dest_root = root
                if link:
                    dest_root = work / "link"
                    dest_root.mkdir()
                common = {
                    "sources": sources,
                    "dest": dest,
                    "workdir": workdir,
                    "src_root": src_root,
                    "ignore": None if from_ else self.ignore,
                    "heredocs": inline,
                    "chown": chown,
                    "chmod": chmod,
                    "excludes": flags.get("exclude", []),
                    "timestamp_ns": epoch_ns,
                    "user_root": root,
                    "work_dir": work,
                }
                if isinstance(cmd, AddCommand):
                    checksum = _last(flags, "checksum")
                    unpack_flag = _last(flags, "unpack")
                    add_into(
                        dest_root,
                        **common,  # type: ignore[arg-type]
                        checksum=checksum,
                        keep_git_dir=True if "keep-git-dir" in flags else None,
                        unpack=None if unpack_flag is None else unpack_flag == "true",
                    )
                else:
                    copy_into(
                        dest_root,
                        **common,  # type: ignore[arg-type]
                        parents="parents" in flags,
                        source_is_context=from_ is None,
                    )
            tree = dest_root if link else work / "upper"
            return self._commit(state, tree, text, overlay=not link)

    # --- commits ---------------------------------------------------------------------------

    def _commit(
        self, state: StageState, tree: Path, text: str, *, overlay: bool = True
    ) -> CachedStep:
        """Turn a step's changed tree into a layer (or an empty_layer history entry)."""
        from builder.snapshot.layer import write_layer

        created = _now(self.request.source_date_epoch)
        if overlay:
            _prune_unchanged_dirs(tree, state.snapshots)
        if not any(tree.iterdir()):
            self._history(state, text, empty=True, created=created)
            return CachedStep(None, None, created)
        with self.store.blob_writer() as writer:
            blob = write_layer(
                tree,
                writer,
                compression="gzip",
                source_date_epoch=self.request.source_date_epoch,
                from_overlay_upper=overlay,
            )
        if blob.entries == 0:
            self._history(state, text, empty=True, created=created)
            return CachedStep(None, None, created)
        layer = Descriptor(mediatypes.OCI_LAYER_GZIP, blob.digest, blob.size)
        chain = chain_ids([*state.config.image.diff_ids, blob.diff_id])[-1]
        state.snapshots.append(self.store.adopt_snapshot(chain, tree))
        self._add_layer(state, layer, blob.diff_id, text, created)
        return CachedStep(layer, blob.diff_id, created, chain=chain)

    def _add_layer(
        self, state: StageState, layer: Descriptor, diff_id: str, text: str, created: str
    ) -> None:
        state.config.image.diff_ids.append(diff_id)
        state.layers.append(layer)
        self._history(state, text, empty=False, created=created)

    # --- the cache ---------------------------------------------------------------------------

    def _inputs(self, state: StageState, step: Step) -> StepInputs | None:
        """What the step's result depends on; None when that cannot be known beforehand."""
        flags = " ".join(step.flags)
        if step.kind == "arg":  # declaring is not using: the value counts where it is used
            return StepInputs(state.key, step.instruction)
        if step.kind in CONFIG_ONLY_KINDS or step.kind == "workdir":
            return StepInputs(state.key, " ".join([step.kind.upper(), *step.args]))
        cmd = step.command
        if isinstance(cmd, RunCommand):
            return self._run_inputs(state, step, cmd)
        assert isinstance(cmd, CopyCommand | AddCommand)
        parsed = parse_step_flags(step.flags)
        sources = step.args[: len(step.args) - 1 - len(cmd.heredocs)]
        extra = {f"heredoc {h.name}": _sha256(h.content) for h in cmd.heredocs}
        from_ = _last(parsed, "from")
        files: dict[str, str] = {}
        if from_:
            extra["from"] = self._source_key(from_)
        else:
            remote = [s for s in sources if "://" in s or s.startswith("git@")]
            if remote:
                checksum = _last(parsed, "checksum")
                if checksum is None:
                    return None  # a download: known only after fetching it
                extra["checksum"] = checksum
            files = self._context_files([s for s in sources if s not in remote])
        instruction = " ".join([step.kind.upper(), flags, *step.args]).replace("  ", " ")
        return StepInputs(state.key, instruction, files=files, extra=extra)

    def _run_inputs(self, state: StageState, step: Step, cmd: RunCommand) -> StepInputs:
        from builder.solve.mounts.run import context_paths, secret_ids, ssh_ids

        parsed = parse_step_flags(step.flags)
        mounts = [parse_mount(value) for value in parsed.get("mount", [])]
        network = _last(parsed, "network") or "default"
        extra = {
            "network": self.request.network if network == "default" else network,
            "shell": " ".join(state.config.shell),
        }
        if secret_ids(mounts):
            extra["secrets"] = ",".join(sorted(secret_ids(mounts)))  # ids only, never values
        if ssh_ids(mounts):
            extra["ssh"] = ",".join(sorted(ssh_ids(mounts)))
        for mount in mounts:
            if mount.type == "bind" and mount.from_:
                extra[f"mount from {mount.from_}"] = self._source_key(mount.from_)
        files = self._context_files(list(context_paths(mounts)))
        heredocs = "".join(h.content for h in cmd.heredocs)
        instruction = " ".join([step.instruction, *step.flags]) + heredocs
        env = {v.name: v.value for v in step.variables}
        return StepInputs(state.key, instruction, env=env, files=files, extra=extra)

    def _source_key(self, name: str) -> str:
        """The cache key of a stage used by `--from` (or an image's manifest digest)."""
        assert self.plan is not None
        try:
            stage = self.plan.stage(int(name) if name.isdigit() else name)
        except (KeyError, IndexError):
            stage = None
        if stage is not None and stage.index in self.stages:
            return self.stages[stage.index].key
        return self._base_record(name).manifest_digest

    def _context_files(self, sources: list[str]) -> dict[str, str]:
        """Digests of the context entries `sources` select (a wildcard may select none)."""
        from builder.context.dockerignore import contains_wildcards
        from builder.context.hashing import SourceNotFoundError, selection_digest
        from builder.context.walk import walk_context

        if not sources:
            return {}
        files: dict[str, str] = {}
        with self.context_lock:
            if self.context_entries is None:
                self.context_entries = walk_context(self.request.context_dir, self.ignore)
            for source in sources:
                try:
                    selection = selection_digest(
                        self.request.context_dir, [source], self.ignore, self.statcache,
                        entries=self.context_entries,
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

    def _restore_safely(self, state: StageState, step: Step, hit: CachedStep) -> bool:
        """`_restore`, with a broken cached result (a lying record) counting as a miss."""
        saved = state.copy()
        try:
            return self._restore(state, step, hit)
        except PybuildError as err:
            if step.vertex is not None:
                self.progress(StepLog(step.vertex, f"cached result unusable, running: {err}"))
            state.config, state.layers, state.snapshots = (
                saved.config,
                saved.layers,
                saved.snapshots,
            )
            return False

    def _restore(self, state: StageState, step: Step, hit: CachedStep) -> bool:
        """Apply a cached result; False if its layer is gone (then the step runs)."""
        if hit.layer is not None and (
            hit.diff_id is None or not self.store.has_blob(hit.layer.digest)
        ):
            return False
        where = self._where(step)
        if step.kind in CONFIG_ONLY_KINDS:
            text = apply_config_step(state.config, step, where)
            if text is not None:
                self._history(state, text, empty=True, created=hit.created)
            return True
        if step.kind == "workdir":
            config = state.config.image.config
            config.working_dir = resolve_workdir(config.working_dir, step.args[0])
            text = f"WORKDIR {config.working_dir}"
        elif isinstance(step.command, RunCommand):
            args, _ = _run_argv(state.config.shell, step.command)
            text = run_history(state.config, step, args)
        else:
            text = copy_history(step)
        if hit.layer is None or hit.diff_id is None:
            self._history(state, text, empty=True, created=hit.created)
            return True
        diff_ids = [*state.config.image.diff_ids, hit.diff_id]
        snapshot = self.store.ensure_layer_snapshot(chain_ids(diff_ids)[-1], hit.layer, hit.diff_id)
        state.snapshots.append(snapshot)
        self._add_layer(state, hit.layer, hit.diff_id, text, hit.created)
        return True

    # --- the image ---------------------------------------------------------------------------

    def _write_image(self, state: StageState) -> ImageRecord:
        from builder.image.reference import ReferenceError, parse_tag

        image = state.config.image
        image.config.labels.update(self.request.labels)
        image.created = (
            image.history[-1].created if image.history else _now(self.request.source_date_epoch)
        )
        config_bytes = image.to_bytes()
        config_digest = self.store.put_blob(config_bytes)
        manifest = Manifest(
            config=Descriptor(mediatypes.OCI_CONFIG, config_digest, len(config_bytes)),
            layers=tuple(state.layers),
            media_type=mediatypes.OCI_MANIFEST,
        )
        manifest_digest = self.store.put_blob(manifest.to_bytes())
        try:
            names = [str(parse_tag(tag)) for tag in self.request.tags]
        except ReferenceError as err:
            raise BuildError(str(err)) from None
        return self.store.add_image(manifest_digest, names=names)

    _cleanup: ExitStack


def _with_env(env: list[str], extra: dict[str, str]) -> list[str]:
    """`env` with `extra` set: existing names replaced in place, new ones appended."""
    out = [item for item in env if item.partition("=")[0] not in extra]
    return out + [f"{k}={v}" for k, v in extra.items()]


def _run_argv(shell: list[str], cmd: RunCommand) -> tuple[list[str], str | None]:
    """A RUN's argv, and the script to mount when a heredoc starts with `#!`.

    Shell form runs through SHELL. `RUN <<EOF` runs the body as the script
    (as a file when it has a `#!` line, so the kernel honours it); heredocs
    that feed a command (`python3 <<EOF`) go to the shell with the command.
    """
    if not cmd.prepend_shell:
        return list(cmd.cmd_line), None
    script = cmd.cmd_line[0]
    if not cmd.heredocs:
        return [*shell, script], None
    only = cmd.heredocs[0]
    if len(cmd.heredocs) == 1 and script.strip() in (f"<<{only.name}", f"<<-{only.name}"):
        body = _chomp(only)
        if body.startswith("#!"):
            return [f"/dev/pipes/{only.name}"], body
        return [*shell, body], None
    text = script + "\n" + "".join(h.content + h.name + "\n" for h in cmd.heredocs)
    return [*shell, text.rstrip("\n")], None


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _chomp(heredoc: Heredoc) -> str:
    if not heredoc.chomp:
        return heredoc.content
    return "".join(line.lstrip("\t") for line in heredoc.content.splitlines(keepends=True))


def _lower_stat(lowers: list[Path], relpath: str) -> os.stat_result | None:
    for lower in reversed(lowers):
        try:
            return os.lstat(lower / relpath)
        except OSError:
            continue
    return None


def _prune_unchanged_dirs(upper: Path, lowers: list[Path]) -> None:
    """Drop directories overlayfs copied up but the step did not change.

    Mount points made for the container (`/etc` for `/etc/hosts`) and the
    parents of files written then deleted leave empty copies in the upper
    dir. An empty, non-opaque dir whose owner and mode equal the lower one's
    changed only its mtime, which is not worth a layer (and would make every
    RUN a layer).
    """
    for dirpath, _dirnames, filenames in os.walk(upper, topdown=False):
        if dirpath == str(upper) or filenames or os.listdir(dirpath):
            continue
        path = Path(dirpath)
        try:
            if os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y":
                continue
        except OSError:
            pass
        lower = _lower_stat(lowers, os.path.relpath(path, upper))
        if lower is None:
            continue
        mine = os.lstat(path)
        if (lower.st_mode, lower.st_uid, lower.st_gid) == (mine.st_mode, mine.st_uid, mine.st_gid):
            os.rmdir(path)
