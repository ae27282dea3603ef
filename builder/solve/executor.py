"""Run a build plan: every stage's steps, in order, into layers and an image.

Each stage starts from its base (`stages.Bases`) and keeps a `StageState`:
the image config being written, the layers so far and their snapshot dirs.
For each step the executor computes its cache key (`cache.inputs`), reuses a
cached result when there is one (`restore`), and otherwise dispatches it to
the module for its kind: `run_step`, `copy_step`, `workdir_step`, or
`metadata` for the steps that only change the config. Stages that do not
depend on each other run at once (`scheduler`). The image of the target
stage goes into the store under the requested tags.

Stopping: `request.cancel`, set from outside, stops every stage; each step
that was running is reported `StepCanceled` and the build raises
`BuildCancelled`. A failing stage stops the others the same way (their
running steps are `StepCanceled` too), but its own error is the one raised.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from builder.context.dockerignore import DockerignoreError, load_ignore_patterns
from builder.context.statcache import StatCache
from builder.dockerfile.parser import parse
from builder.errors import BuildCancelled, BuildError, PybuildError
from builder.image import mediatypes
from builder.image.model import Descriptor, Manifest
from builder.image.reference import ReferenceError, parse_tag
from builder.plan.epoch import plan_epoch
from builder.plan.graph import plan
from builder.plan.model import BuildPlan, PlannedStage, Step
from builder.plan.named_contexts import NamedContext, context_name
from builder.solve.cache.format import INLINE_CACHE_KEY
from builder.solve.cache.inputs import StepKeyer
from builder.solve.cache.keys import BuildCache, CachedStep, StepInputs, explain_miss
from builder.solve.cache.types import UsedStep
from builder.solve.cancel import BuildStop
from builder.solve.commit import add_history, timestamp
from builder.solve.metadata import CONFIG_ONLY_KINDS, apply_config_step
from builder.solve.named_context import context_digest, named_ignore
from builder.solve.progress import (
    BuildStarted,
    Reporter,
    StepCanceled,
    StepDone,
    StepFailed,
    StepLog,
    StepStarted,
    no_progress,
)
from builder.solve.request import BuildInputs, SolveRequest, SolveResult
from builder.solve.restore import restore_step
from builder.solve.scheduler import default_jobs, run_wave
from builder.solve.stages import Bases, StageState, find_stage
from builder.solve.workspace import Workspace

if TYPE_CHECKING:
    from builder.store import ImageRecord, Store

__all__ = ["SolveRequest", "SolveResult", "build", "check_emulation", "default_jobs"]


def _target_platform(request: SolveRequest) -> str:
    from builder.image.platform import host_platform, parse_platform

    if request.platform is None:
        return str(host_platform())
    try:
        return str(parse_platform(request.platform))
    except ValueError as exc:
        raise BuildError(f"invalid platform {request.platform!r}: {exc}") from None


def check_emulation(request: SolveRequest) -> None:
    """BuildError unless every foreign platform a RUN of the build runs under can be emulated.

    For a multi-platform build, before any platform's first step: the plan is
    made without base images (their ONBUILD triggers are not seen here; the
    check of each build covers them).
    """
    dockerfile = parse(request.dockerfile, request.dockerfile_name)
    planned = plan(
        dockerfile, target=request.target, build_args=request.build_args,
        platform=request.platform, environ=request.environ,
        contexts={name: c.image for name, c in request.contexts.items()},
    )  # fmt: skip
    _check_plan_emulation(planned)


def _check_plan_emulation(planned: BuildPlan) -> None:
    from builder.image.platform import needs_emulation, parse_platform

    for stage in planned.stages:
        if not stage.needed or not any(step.kind == "run" for step in stage.steps):
            continue
        platform = parse_platform(stage.platform or planned.platform)
        if needs_emulation(platform):
            from builder.runtime.emulation import find_emulator

            find_emulator(str(platform))


def build(store: Store, request: SolveRequest, *, progress: Reporter = no_progress) -> SolveResult:
    """Build `request` into `store`; raise a PybuildError (BuildError for a failing step)."""
    with store.lease():
        return _Build(store, request, progress).run()


class _Build:
    def __init__(self, store: Store, request: SolveRequest, progress: Reporter):
        self.store = store
        self.request = request
        self.progress = progress
        self.lines = request.dockerfile.decode("utf-8", "replace").split("\n")
        self.stages: dict[int, StageState] = {}
        self.bases = Bases(store, pull=request.pull, platform=_target_platform(request))
        self.cache = BuildCache(store.cache_root)
        #: set when one stage fails (the others stop) or by the caller (everything stops)
        self.cancel = BuildStop(request.cancel)
        self.used: list[tuple[str, CachedStep, StepInputs, int]] = []
        self.used_lock = threading.Lock()
        self.context_keys: dict[str, str] = {}  #: digests of named directory contexts
        #: (stage, step position) -> (layer digest or "", from the cache), for provenance
        self.step_results: dict[tuple[int, int], tuple[str, bool]] = {}
        self.unkeyed = False  #: a step could not be keyed beforehand (a download)
        self.plan: BuildPlan
        self.ws: Workspace
        self.keyer: StepKeyer

    # --- the whole build --------------------------------------------------------------

    def run(self) -> SolveResult:
        request = self.request
        dockerfile = parse(request.dockerfile, request.dockerfile_name)
        self.plan = plan(
            dockerfile,
            target=request.target,
            build_args=request.build_args,
            platform=request.platform,
            environ=request.environ,
            base_image=self.bases.config,
            contexts={name: c.image for name, c in request.contexts.items()},
            step_prefix=f"{self.bases.platform} " if request.platform_label else "",
            first_vertex=request.first_vertex,
        )
        epoch = plan_epoch(self.plan.build_args, self.plan.global_args)
        if epoch is not None and epoch != request.source_date_epoch:
            request = self.request = replace(request, source_date_epoch=epoch)
        self._check_emulation()
        try:
            ignore = load_ignore_patterns(request.context_dir, request.dockerfile_path)
        except DockerignoreError as err:
            raise BuildError(f".dockerignore: {err}") from None
        statcache = StatCache.for_context(self.store.cache_root / "context", request.context_dir)
        self.ws = Workspace(
            self.store, request, self.progress, self.cancel, ignore, self.lines, self._lowers_of
        )
        from builder.solve.run_step import check_run_networks

        stages = [self.plan.stages[i] for wave in self.plan.waves for i in wave]
        check_run_networks(request, [s for stage in stages for s in stage.steps], self.ws.location)
        self.keyer = StepKeyer(
            request.context_dir, ignore, statcache, network=request.network,
            from_key=self._from_key, run_inputs=request.sandbox.cache_inputs(),
            epoch=request.source_date_epoch,
        )  # fmt: skip
        # a later platform of a multi-platform build: the total so far, its steps included
        self.progress(BuildStarted(request.first_vertex - 1 + self._vertex_count()))
        jobs = request.jobs or default_jobs()
        try:
            for wave in self.plan.waves:
                stages = [self.plan.stages[i] for i in wave]
                run_wave(stages, self._run_stage, jobs=jobs, cancel=self.cancel)
        except PybuildError as err:
            if self.cancel.cancelled() and not isinstance(err, BuildCancelled):
                raise BuildCancelled() from None  # the stages' errors only say they stopped
            raise
        self._stop_if_cancelled()
        statcache.save()
        final = self.stages[self.plan.target]
        used = self._used_steps()
        final.config.image.extra.pop(INLINE_CACHE_KEY, None)  # never a base image's records
        if request.inline_cache:
            # the remote-cache code loads the registry client: only builds that use it pay
            from builder.solve.cache.remote import embed_inline_cache

            embed_inline_cache(final.config.image, used)
        record = self._write_image(final)
        inputs = BuildInputs(
            request.dockerfile, self.keyer.walked, self.bases.resolved(), not self.unkeyed
        )
        return SolveResult(
            record,
            final.config.image,
            self.plan,
            used,
            inputs,
            stage_layers={i: tuple(state.layers) for i, state in self.stages.items()},
            bases=self.bases.used(),
            materials=list(self.ws.materials),
            step_results=dict(self.step_results),
        )

    def _check_emulation(self) -> None:
        """Before any step: each foreign platform a RUN runs under has an emulator."""
        _check_plan_emulation(self.plan)

    def _vertex_count(self) -> int:
        return sum(
            1
            for wave in self.plan.waves
            for index in wave
            for step in self.plan.stages[index].steps
            if step.vertex is not None
        )

    # --- `--from` names: a stage of this build, else an image --------------------------

    # --- `--from` names: a named context, a stage of this build, else an image ----------

    def _named(self, name: str) -> NamedContext | None:
        return self.request.contexts.get(context_name(name))

    def _from_state(self, name: str) -> StageState | None:
        if self._named(name) is not None:
            return None  # a named context wins over a stage of that name, as in buildx
        stage = find_stage(self.plan, name)
        return self.stages.get(stage.index) if stage is not None else None

    def _image_of(self, name: str) -> str:
        named = self._named(name)
        return named.image if named is not None and named.image is not None else name

    def _from_key(self, name: str) -> str:
        """The key of a `--from` stage, an image's manifest digest, or a directory's digest."""
        named = self._named(name)
        if named is not None and named.path is not None:
            with self.used_lock:
                if named.name not in self.context_keys:
                    self.context_keys[named.name] = context_digest(named.path)
                return self.context_keys[named.name]
        state = self._from_state(name)
        if state is not None:
            return state.key
        return self.bases.record(self._image_of(name)).manifest_digest

    def _lowers_of(self, name: str) -> list[Path]:
        state = self._from_state(name)
        if state is not None:
            return list(state.snapshots)
        return self.store.ensure_snapshots(self.bases.record(self._image_of(name)))

    def _context_base(self, stage: PlannedStage) -> StageState:
        """`FROM NAME` of a named directory: an empty image, the directory's files a layer."""
        from builder.solve.copy.files import copy_into
        from builder.solve.copy.request import CopyRequest

        named = self.request.contexts[stage.base.name]
        assert named.path is not None
        state = self.bases.scratch(stage, self.plan)
        epoch = self.request.source_date_epoch
        with self.ws.step_work() as work:
            tree = work / "tree"
            tree.mkdir()
            request = CopyRequest(
                sources=(".",), dest="/", src_root=named.path, ignore=named_ignore(named.path),
                timestamp_ns=epoch * 1_000_000_000 if epoch is not None else None, work_dir=work,
            )  # fmt: skip
            copy_into(tree, request)
            self.ws.commit(state, tree, f"FROM {named.name}", overlay=False)
        state.key = StepInputs(
            state.key, "FROM", extra={"context": self._from_key(named.name)}
        ).key()
        return state

    # --- one stage ---------------------------------------------------------------------

    def _run_stage(self, stage: PlannedStage) -> None:
        state: StageState | None = None
        for position, step in enumerate(stage.steps):
            self._stop_if_cancelled()
            if self.cancel.is_set():
                raise BuildError("cancelled: another stage failed")
            started = time.monotonic()
            if step.vertex is not None:
                self.progress(StepStarted(step.vertex, step.name))
            cached = False
            try:
                if step.kind == "from" and stage.base.kind == "context":
                    state = self._context_base(stage)
                elif step.kind == "from":
                    state = self.bases.start(stage, self.plan, self.stages)
                else:
                    assert state is not None
                    layers_before = len(state.layers)
                    cached = self._step(state, step, stage, position)
                    made = state.layers[-1].digest if len(state.layers) > layers_before else ""
                    self.step_results[(stage.index, position)] = (made, cached)
            except PybuildError as err:
                if step.vertex is not None:
                    seconds = time.monotonic() - started
                    if self._stopped_by_cancel(err):
                        self.progress(StepCanceled(step.vertex, seconds))
                    else:
                        self.progress(StepFailed(step.vertex, err.message, seconds=seconds))
                if err.location is None and step.kind != "from":
                    err.location = self.ws.location(step.line)
                raise
            if step.vertex is not None:
                self.progress(StepDone(step.vertex, time.monotonic() - started, cached=cached))
        assert state is not None
        self.stages[stage.index] = state

    def _stop_if_cancelled(self) -> None:
        if self.cancel.cancelled():
            raise BuildCancelled()

    def _stopped_by_cancel(self, err: PybuildError) -> bool:
        """Whether a step failed because the build was stopped, not by itself."""
        from builder.runtime.container import RunCancelledError

        return self.cancel.is_set() and isinstance(err, RunCancelledError | BuildCancelled)

    def _step(self, state: StageState, step: Step, stage: PlannedStage, position: int) -> bool:
        """Run one step, or reuse its cached result; True when it came from the cache."""
        identity = "\0".join(
            [str(self.request.context_dir.resolve()), self.request.dockerfile_name,
             str(stage.index), str(position)]
        )  # fmt: skip
        with ExitStack() as stack:  # read-only mounts the step needs (`--from`), undone after it
            inputs = self.keyer.inputs(state.key, step, state.config.shell)
            if inputs is not None and step.kind == "run":
                emulated = self._emulated(stage)
                if emulated is not None:  # the same base under another CPU: another result
                    inputs.extra["platform"] = emulated
            key = inputs.key() if inputs is not None else None
            session = self.request.session_keys
            use_cache = key is not None and not self._no_cache(stage)
            hit = self._lookup(key) if use_cache and key is not None else None
            if key is not None and hit is None and (use_cache or session is not None):
                # another build (a bake target, a parallel stage) may be running this very
                # step: wait for it, then take its result from the cache
                if not stack.enter_context(self.cache.lock(key, self.cancel)):
                    raise BuildCancelled()
                if use_cache or (session is not None and key in session):
                    hit = self._lookup(key)
            if hit is not None and self._restore(state, step, hit):
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
                if session is not None:
                    session.add(key)
                state.key = key
                self._use(key, result, inputs, stage)
            else:  # not cacheable (a download): later steps key on what it produced
                self.unkeyed = True
                state.key = StepInputs(state.key, step.instruction,
                                       extra={"result": result.diff_id or ""}).key()  # fmt: skip
        return False

    def _emulated(self, stage: PlannedStage) -> str | None:
        """The stage's platform when its RUN steps are emulated (None when native)."""
        from builder.image.platform import needs_emulation, parse_platform

        platform = parse_platform(stage.platform or self.plan.platform)
        return str(platform) if needs_emulation(platform) else None

    def _dispatch(self, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
        # The step modules are imported on first use: a fully cached rebuild never
        # loads the runtime, mount or copy code (start-up time is most of its cost).
        if step.kind in CONFIG_ONLY_KINDS:
            created = timestamp(self.request.source_date_epoch)
            text = apply_config_step(state.config, step, self.ws.where(step.line))
            if text is not None:
                add_history(state, text, empty=True, created=created)
            return CachedStep(None, None, created)
        if step.kind == "workdir":
            from builder.solve.workdir_step import workdir_step

            return workdir_step(self.ws, state, step)
        if step.kind == "run":
            from builder.solve.run_step import run_step

            return run_step(self.ws, state, step, stack)
        if step.kind in ("copy", "add"):
            from builder.solve.copy_step import copy_step

            return copy_step(self.ws, state, step, stack)
        raise BuildError(f"{self.ws.where(step.line)}: {step.kind.upper()} cannot be built")

    # --- the cache ---------------------------------------------------------------------

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

    def _restore(self, state: StageState, step: Step, hit: CachedStep) -> bool:
        """Apply a cached result; a broken one (a lying record) counts as a miss."""
        saved = state.copy()
        try:
            return restore_step(self.store, state, step, hit, self.ws.where(step.line))
        except PybuildError as err:
            if step.vertex is not None:
                self.progress(StepLog(step.vertex, f"cached result unusable, running: {err}"))
            state.config, state.layers, state.snapshots = (
                saved.config,
                saved.layers,
                saved.snapshots,
            )
            return False

    def _use(self, key: str, result: CachedStep, inputs: StepInputs, stage: PlannedStage) -> None:
        with self.used_lock:
            self.used.append((key, result, inputs, stage.index))

    def _used_steps(self) -> list[UsedStep]:
        """Every keyed step, marked when it belongs to the final image's chain."""
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

    # --- the image ---------------------------------------------------------------------

    def _annotations(self, state: StageState) -> dict[str, str]:
        """`--annotation`s for this image's manifest (those for its platform or for all)."""
        if not self.request.annotations:
            return {}
        from builder.image.platform import Platform
        from builder.solve.annotations import manifest_annotations

        image = state.config.image
        platform = Platform(image.os, image.architecture, image.variant)
        return manifest_annotations(self.request.annotations, str(platform))

    def _write_image(self, state: StageState) -> ImageRecord:
        image = state.config.image
        image.config.labels.update(self.request.labels)
        epoch = self.request.source_date_epoch
        image.created = (
            image.history[-1].created
            if image.history and epoch is None
            else timestamp(epoch)  # with an epoch, even a bare `FROM base` is made "then"
        )
        config_bytes = image.to_bytes()
        config_digest = self.store.put_blob(config_bytes)
        manifest = Manifest(
            config=Descriptor(mediatypes.OCI_CONFIG, config_digest, len(config_bytes)),
            layers=tuple(state.layers),
            media_type=mediatypes.OCI_MANIFEST,
            annotations=self._annotations(state),
        )
        manifest_digest = self.store.put_blob(manifest.to_bytes())
        try:
            names = [str(parse_tag(tag)) for tag in self.request.tags]
        except ReferenceError as err:
            raise BuildError(str(err)) from None
        return self.store.add_image(manifest_digest, names=names)
