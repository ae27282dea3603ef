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
import os
import re
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
    Reporter,
    StepDone,
    StepFailed,
    StepOutput,
    StepStarted,
    no_progress,
)

if TYPE_CHECKING:
    from builder.context.dockerignore import IgnoreMatcher
    from builder.runtime.spec import Mount
    from builder.runtime.users import ResolvedUser
    from builder.snapshot.overlay import OverlayRoot
    from builder.solve.run_mounts import MountSources
    from builder.solve.secrets import SecretSource
    from builder.store import ImageRecord, Store


@dataclass
class BuildRequest:
    """What `pybuild build` was asked to do."""

    dockerfile: bytes
    context_dir: Path
    dockerfile_name: str = "Dockerfile"  #: shown in messages (`Dockerfile:3`)
    dockerfile_path: Path | None = None  #: for `<name>.dockerignore` next to it
    tags: list[str] = field(default_factory=list)
    target: str | None = None
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None
    network: str = "host"  #: default network of RUN steps: host or none
    runtime: str = "runc"
    allow_insecure: bool = False  #: `--allow security.insecure`
    secrets: dict[str, SecretSource] = field(default_factory=dict)
    ssh: dict[str, list[Path]] = field(default_factory=dict)  #: id -> agent sockets / keys
    source_date_epoch: int | None = None
    environ: dict[str, str] | None = None  #: for bare `--build-arg NAME` (default: os.environ)


@dataclass
class StageState:
    """A stage as far as it has run."""

    config: StageConfig
    layers: list[Descriptor] = field(default_factory=list)
    snapshots: list[Path] = field(default_factory=list)  #: overlay lower dirs, base first

    def copy(self) -> StageState:
        image = ImageConfig.from_bytes(self.config.image.to_bytes())
        config = StageConfig(image, self.config.cmd_set, list(self.config.arg_names))
        return StageState(config, list(self.layers), list(self.snapshots))


@dataclass
class BuildResult:
    record: ImageRecord
    config: ImageConfig
    plan: BuildPlan


def build(store: Store, request: BuildRequest, *, progress: Reporter = no_progress) -> BuildResult:
    """Build `request` into `store`; raise a PybuildError (BuildError for a failing step)."""
    with store.lease():
        return _Build(store, request, progress).run()


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
    def __init__(self, store: Store, request: BuildRequest, progress: Reporter):
        self.store = store
        self.request = request
        self.progress = progress
        self.lines = request.dockerfile.decode("utf-8", "replace").split("\n")
        self.stages: dict[int, StageState] = {}
        self.ignore: IgnoreMatcher | None = None
        self.plan: BuildPlan | None = None
        self.base_records: dict[str, ImageRecord] = {}

    # --- the whole build --------------------------------------------------------------

    def run(self) -> BuildResult:
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
        for wave in self.plan.waves:
            for index in wave:
                self.stages[index] = self._run_stage(self.plan.stages[index])
        final = self.stages[self.plan.target]
        record = self._write_image(final)
        return BuildResult(record, final.config.image, self.plan)

    def _location(self, line: int) -> Location:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        return Location(self.request.dockerfile_name, line, source_line=source)

    def _where(self, step: Step) -> str:
        return f"{self.request.dockerfile_name}:{step.line}"

    # --- bases -------------------------------------------------------------------------

    def _base_record(self, name: str) -> ImageRecord:
        """A base image from the store, pulled when missing (as docker build does)."""
        if name in self.base_records:
            return self.base_records[name]
        record = self.store.find(name)
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
            from builder.plan.platform import parse_platform

            assert self.plan is not None
            platform = parse_platform(stage.platform or self.plan.platform)
            image = ImageConfig(
                architecture=platform.architecture, os=platform.os, variant=platform.variant
            )
            return StageState(start_stage(image))
        record = self._base_record(base.name)
        config = self.store.config(record)
        state = StageState(start_stage(config))
        state.config.image.config.on_build = None  # triggers run once, in this build
        state.layers = list(self.store.manifest(record).layers)
        state.snapshots = self.store.ensure_snapshots(record)
        return state

    # --- one stage ---------------------------------------------------------------------

    def _run_stage(self, stage: PlannedStage) -> StageState:
        state: StageState | None = None
        for step in stage.steps:
            started = time.monotonic()
            if step.vertex is not None:
                self.progress(StepStarted(step.vertex, step.name))
            try:
                if step.kind == "from":
                    state = self._start(stage)
                else:
                    assert state is not None
                    self._step(state, step)
            except PybuildError as err:
                if step.vertex is not None:
                    self.progress(StepFailed(step.vertex, err.message))
                if err.location is None and step.kind != "from":
                    err.location = self._location(step.line)
                raise
            if step.vertex is not None:
                self.progress(StepDone(step.vertex, time.monotonic() - started))
        assert state is not None
        return state

    def _step(self, state: StageState, step: Step) -> None:
        with ExitStack() as stack:
            self._cleanup = stack  # read-only mounts a step needs (`--from`), undone after it
            self._dispatch(state, step)

    def _dispatch(self, state: StageState, step: Step) -> None:
        where = self._where(step)
        if step.kind in CONFIG_ONLY_KINDS:
            text = apply_config_step(state.config, step, where)
            if text is not None:
                self._history(state, text, empty=True)
        elif step.kind == "workdir":
            self._workdir(state, step)
        elif step.kind == "run":
            self._run(state, step)
        elif step.kind in ("copy", "add"):
            self._copy(state, step)
        else:
            raise BuildError(f"{where}: {step.kind.upper()} cannot be built")

    def _history(self, state: StageState, text: str, *, empty: bool) -> None:
        state.config.image.history.append(
            History(
                created=_now(self.request.source_date_epoch),
                created_by=text,
                comment=HISTORY_COMMENT,
                empty_layer=empty,
            )
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

    def _workdir(self, state: StageState, step: Step) -> None:
        config = state.config.image.config
        config.working_dir = resolve_workdir(config.working_dir, step.args[0])
        text = f"WORKDIR {config.working_dir}"
        with self._step_work() as work:
            with self._mounted(state, work) as mounted:
                user = self._user(mounted.merged, state)
                mkdir_in_root(mounted.merged, config.working_dir, user.uid, user.gid)
            self._commit(state, work / "upper", text)

    def _run(self, state: StageState, step: Step) -> None:
        from builder.runtime.container import run
        from builder.runtime.spec import RunSpec
        from builder.solve.run_mounts import prepare_mounts

        cmd = step.command
        assert isinstance(cmd, RunCommand)
        config = state.config.image.config
        flags = parse_step_flags(step.flags)
        wanted = _last(flags, "network") or "default"
        wanted = self.request.network if wanted == "default" else wanted
        if wanted not in ("host", "none"):
            raise BuildError(f"RUN --network={wanted} is not supported (use host or none)")
        network: Literal["host", "none"] = "host" if wanted == "host" else "none"
        insecure = (flags.get("security") or ["sandbox"])[-1] == "insecure"
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
                    mounts, self._mount_sources(), work_dir=work / "mounts", workdir=cwd,
                    step_env=env, insecure=insecure,
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
                        work_dir=work / "bundle",
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
            self._commit(state, work / "upper", run_history(state.config, step, args))

    def _run_args(
        self, state: StageState, cmd: RunCommand, work: Path
    ) -> tuple[list[str], list[Mount]]:
        """The process's argv, and mounts for heredoc scripts with a `#!` line."""
        from builder.runtime.spec import Mount

        if not cmd.prepend_shell:
            return list(cmd.cmd_line), []
        script = cmd.cmd_line[0]
        shell = state.config.shell
        if not cmd.heredocs:
            return [*shell, script], []
        only = cmd.heredocs[0]
        if len(cmd.heredocs) == 1 and script.strip() in (f"<<{only.name}", f"<<-{only.name}"):
            body = _chomp(only)
            if body.startswith("#!"):  # run as a file, so the kernel honours the #! line
                scripts = work / "heredocs"
                scripts.mkdir(exist_ok=True)
                path = scripts / "script"
                path.write_text(body)
                path.chmod(0o755)
                target = f"/dev/pipes/{only.name}"
                return [target], [Mount(target, "bind", str(path), ("rbind", "ro"))]
            return [*shell, body], []
        # heredocs feeding commands (`python3 <<EOF`): the shell reads them from the script
        text = script + "\n" + "".join(h.content + h.name + "\n" for h in cmd.heredocs)
        return [*shell, text.rstrip("\n")], []

    def _mount_sources(self) -> MountSources:
        from builder.solve.run_mounts import MountSources

        return MountSources(
            context_dir=self.request.context_dir,
            ignore=self.ignore,
            stage_root=self._readonly_root,
            secrets=self.request.secrets,
            ssh=self.request.ssh,
            cache_root=self.store.cache_root,
        )

    def _readonly_root(self, name: str) -> Path:
        """A read-only tree of a stage (by name or index) or an image, for `--from`."""
        lowers = self._lowers_of(name)
        return self._mount_readonly(lowers)

    def _lowers_of(self, name: str) -> list[Path]:
        assert self.plan is not None
        try:
            stage = self.plan.stage(int(name) if name.isdigit() else name)
        except (KeyError, IndexError):
            stage = None
        if stage is not None and stage.index in self.stages:
            return list(self.stages[stage.index].snapshots)
        return self.store.ensure_snapshots(self._base_record(name))

    def _mount_readonly(self, lowers: list[Path]) -> Path:
        from builder.snapshot.overlay import overlay_root, remove_work_dir

        work = self.store.temp_dir("from")
        self._cleanup.callback(remove_work_dir, work)
        root = self._cleanup.enter_context(overlay_root(lowers, work, writable=False))
        return root.merged

    def _copy(self, state: StageState, step: Step) -> None:
        from builder.solve.add import add_into
        from builder.solve.copy import InlineFile, copy_into

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
        src_root = self._readonly_root(from_) if from_ else self.request.context_dir
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
            self._commit(state, tree, text, overlay=not link)

    # --- commits ---------------------------------------------------------------------------

    def _commit(self, state: StageState, tree: Path, text: str, *, overlay: bool = True) -> None:
        """Turn a step's changed tree into a layer (or an empty_layer history entry)."""
        from builder.snapshot.layer import write_layer

        if overlay:
            _prune_unchanged_dirs(tree, state.snapshots)
        if not any(tree.iterdir()):
            self._history(state, text, empty=True)
            return
        with self.store.blob_writer() as writer:
            blob = write_layer(
                tree,
                writer,
                compression="gzip",
                source_date_epoch=self.request.source_date_epoch,
                from_overlay_upper=overlay,
            )
        if blob.entries == 0:
            self._history(state, text, empty=True)
            return
        image = state.config.image
        image.diff_ids.append(blob.diff_id)
        chain = chain_ids(image.diff_ids)[-1]
        state.snapshots.append(self.store.adopt_snapshot(chain, tree))
        state.layers.append(Descriptor(mediatypes.OCI_LAYER_GZIP, blob.digest, blob.size))
        self._history(state, text, empty=False)

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
