"""The library API: `build(BuildRequest) -> BuildResult`, and the linter's entry point.

    from builder import BuildRequest, build

    result = build(BuildRequest(context=Path("app"), tags=["app:1"]))
    print(result.image_id, result.tags)

`build` does what `pybuild build` does, without printing anything: it checks
the request (a `UsageError` for bad options, with the CLI's messages), opens
the store (default: `Store.open()`, i.e. $PYBUILD_ROOT or the default root),
opens the `cache_from` sources, runs the solver, exports the outputs and the
`cache_to` caches, and returns what was built. Failures are `PybuildError`s
(`BuildError` for a failing step, `BuildCancelled` for a cancelled build).

Several builds may run at once in one process, in threads, against one
store: this module keeps no state between calls. Progress events go to
`request.progress` while the solver runs; a `ProgressRenderer` (what
`builder.solve.progress.make_reporter` returns) is closed when the solve
ends, before the outputs are written. Setting `request.cancel` stops the
build: every running step is killed and cleaned up (its container, mounts
and scratch dirs), reported `StepCanceled`, and `build` raises
`BuildCancelled`. Outputs already being written when it is set are finished.

Heavy modules (the solver, the registry client) are imported inside the
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from builder.errors import BuildCancelled, UsageError

if TYPE_CHECKING:
    from builder.export.output_spec import OutputSpec
    from builder.image.model import ImageConfig
    from builder.lint import LintConfig, LintResult, PartialConfig, Source
    from builder.plan.model import BuildPlan
    from builder.solve.cache.remote import CacheSource, CacheSpec
    from builder.solve.cache.types import UsedStep
    from builder.solve.mounts.secrets import SecretSource
    from builder.solve.progress import Event
    from builder.solve.request import BuildInputs, SolveRequest
    from builder.store import ImageRecord, Store

    LintInput = str | os.PathLike[str] | Source  #: a path (`-`: stdin) or a `Source`

__all__ = [
    "BuildRequest",
    "BuildResult",
    "BuildWarning",
    "build",
    "default_dockerfile",
    "lint_config",
    "lint_dockerfile",
    "read_dockerfile",
]

NETWORKS = ("host", "none", "default")  #: `default` is `host`, as in docker build
ENTITLEMENTS = ("security.insecure",)


@dataclass(frozen=True)
class BuildWarning:
    """Something the build went on despite: an ignored output option, an unreadable cache."""

    topic: Literal["output", "cache"]
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class BuildRequest:
    """What to build and where to put it; option strings are spelled as buildx takes them."""

    context: Path  #: the build context directory
    #: the Dockerfile: a path, or its bytes (default: CONTEXT/Dockerfile)
    dockerfile: Path | bytes | None = None
    #: the name messages show (`Dockerfile:3`); default: the path, or "Dockerfile" for bytes
    dockerfile_name: str | None = None
    tags: list[str] = field(default_factory=list)  #: `-t NAME[:TAG]`
    #: `--build-arg`; a None value is taken from `environ`, as `--build-arg NAME` does
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None  #: `--target STAGE`
    #: target platforms; empty: the host's. More than one is not supported yet.
    platforms: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  #: `--label KEY=VALUE`
    outputs: list[str] = field(default_factory=list)  #: `-o`; none means type=image
    push: bool = False  #: `--push`
    #: `--load`: also load the image into a Docker engine (an output `type=docker`, no dest)
    load: bool = False
    cache_from: list[str] = field(default_factory=list)  #: `type=registry,ref=R` ...
    cache_to: list[str] = field(default_factory=list)  #: `type=local,dest=DIR` ...
    secrets: list[str] = field(default_factory=list)  #: `id=ID[,src=FILE|,env=VAR]`
    ssh: list[str] = field(default_factory=list)  #: `default|ID[=SOCKET|KEY,...]`
    network: str = "host"  #: network of RUN steps: host (or default) or none
    runtime: str = "runc"  #: OCI runtime for RUN: runc or crun
    allow: list[str] = field(default_factory=list)  #: entitlements: security.insecure
    #: `--annotation [manifest[PLATFORM]:]KEY=VALUE`, on the image manifest
    annotations: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)  #: `--add-host NAME:IP`, into /etc/hosts
    #: `--build-context NAME=DIR|docker-image://REF|URL`, for FROM and `--from` NAME
    build_contexts: list[str] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)  #: `--ulimit TYPE=SOFT[:HARD]` of RUN
    shm_size: str | None = None  #: `--shm-size SIZE` of RUN's /dev/shm (`64m`, `1g`)
    cgroup_parent: str | None = None  #: `--cgroup-parent PATH` of RUN containers
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    explain_cache: bool = False
    jobs: int = 0  #: stages run at once (0: CPUs, at least 4)
    source_date_epoch: int | None = None
    insecure_registries: list[str] = field(default_factory=list)
    #: for bare build args, secrets and `--load`'s DOCKER_HOST (default: os.environ)
    environ: dict[str, str] | None = None
    #: where `dest=-` outputs are written (default: sys.stdout.buffer)
    stdout: BinaryIO | None = None
    progress: Callable[[Event], None] | None = None  #: receives the solver's events
    warn: Callable[[BuildWarning], None] | None = None  #: told each warning as it happens
    cancel: threading.Event | None = None  #: set it to stop the build (`BuildCancelled`)


@dataclass
class BuildResult:
    """What a build made and where it went."""

    image_id: str  #: the config digest (docker's IMAGE ID)
    manifest_digest: str
    config: ImageConfig
    tags: list[str]  #: full names the image got in the store (`docker.io/library/app:1`)
    platforms: dict[str, ImageRecord]  #: platform ("linux/amd64") -> its image; one today
    used: list[UsedStep]  #: every keyed step the build ran or reused
    plan: BuildPlan
    outputs: list[OutputSpec]  #: the outputs as parsed, in order
    exported: list[str]  #: what the exports did ("naming to ...", "writing image ...")
    metadata: dict[str, Any]  #: the `--metadata-file` document
    warnings: list[BuildWarning]
    record: ImageRecord  #: the image's store record, after the exports
    store: Store  #: the store the image is in
    #: what the image was made from (the Dockerfile, context walk, base digests)
    inputs: BuildInputs | None = None


@dataclass
class _Checked:
    """A request, checked and parsed: what the solver and the exporters get."""

    solve: SolveRequest
    outputs: list[OutputSpec]
    cache_from: list[CacheSpec]
    cache_to: list[CacheSpec]


def default_dockerfile(context: Path) -> Path:
    """CONTEXT/Dockerfile, else CONTEXT/Containerfile when only that exists (buildah's name)."""
    dockerfile = Path(context) / "Dockerfile"
    containerfile = Path(context) / "Containerfile"
    if not dockerfile.exists() and containerfile.is_file():
        return containerfile
    return dockerfile


def read_dockerfile(path: Path, shown: str | None = None) -> bytes:
    """The bytes of the Dockerfile at `path`; UsageError, naming it as `shown`, when unreadable."""
    name = shown if shown is not None else str(path)
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"cannot read Dockerfile {name!r}: no such file",
            hint="give the path with -f, or run in a directory holding a Dockerfile",
        ) from None
    except IsADirectoryError:
        raise UsageError(
            f"cannot read Dockerfile {name!r}: it is a directory",
            hint=f"did you mean -f {os.path.join(name, 'Dockerfile')}?",
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read Dockerfile {name!r}: {exc.strerror}") from None


def build(request: BuildRequest, *, store: Store | None = None) -> BuildResult:
    """Build `request` into `store` (default: `Store.open()`) and export its outputs."""
    warnings: list[BuildWarning] = []

    def warn(topic: Literal["output", "cache"], message: str) -> None:
        warning = BuildWarning(topic, message)
        warnings.append(warning)
        if request.warn is not None:
            request.warn(warning)

    checked = _check(request, warn)
    if store is None:
        from builder.store import Store

        store = Store.open()
    from builder.solve.executor import build as solve
    from builder.solve.progress import ProgressRenderer, no_progress

    sources: list[CacheSource] = []
    try:
        if checked.cache_from:
            from builder.solve.cache.remote import open_cache_sources

            sources = open_cache_sources(
                store,
                checked.cache_from,
                insecure_registries=request.insecure_registries,
                warn=lambda message: warn("cache", message),
            )
        checked.solve.cache_from = list(sources)
        for source in sources:
            source.load()  # warnings before the first progress event
        _stop_if_cancelled(request)
        with ExitStack() as fetched:
            _fetch_named_contexts(checked.solve, store, fetched)
            solved = solve(store, checked.solve, progress=request.progress or no_progress)
    finally:
        if isinstance(request.progress, ProgressRenderer):
            request.progress.close()  # a live display ends before the exports
        for source in sources:
            source.close()
    _stop_if_cancelled(request)
    from builder.export.outputs import build_metadata, export_outputs

    exported = export_outputs(
        store, solved.record, checked.outputs, tags=request.tags,
        stdout=request.stdout if request.stdout is not None else sys.stdout.buffer,
        insecure_registries=request.insecure_registries, environ=request.environ,
    )  # fmt: skip
    for cache in checked.cache_to:
        from builder.solve.cache.remote import export_cache

        exported += export_cache(
            store, cache, solved.used, image_record=solved.record,
            insecure_registries=request.insecure_registries,
        )  # fmt: skip
    record = store.find(solved.record.id) or solved.record
    return BuildResult(
        image_id=record.id,
        manifest_digest=record.manifest_digest,
        config=solved.config,
        tags=list(dict.fromkeys(n for s in checked.outputs if s.into_store for n in s.names)),
        platforms={_platform_of(solved.config): record},
        used=solved.used,
        plan=solved.plan,
        outputs=checked.outputs,
        exported=exported,
        metadata=build_metadata(store, record),
        warnings=warnings,
        record=record,
        store=store,
        inputs=solved.inputs,
    )


def _check(
    request: BuildRequest, warn: Callable[[Literal["output", "cache"], str], None]
) -> _Checked:
    """Validate and parse every option before anything is built (UsageError when wrong)."""
    context = Path(request.context)
    if isinstance(request.dockerfile, bytes):
        data, shown, path = request.dockerfile, request.dockerfile_name or "Dockerfile", None
    else:
        path = Path(request.dockerfile or default_dockerfile(context))
        shown = request.dockerfile_name or str(path)
        data = read_dockerfile(path, shown)
    if len(request.platforms) > 1:
        raise UsageError(
            f"multi-platform builds are not supported yet: {', '.join(request.platforms)}",
            hint="build each platform on its own, with one platform each",
        )
    if request.network not in NETWORKS:
        raise UsageError(f"--network {request.network!r}: expected host or none")
    unknown = [a for a in request.allow if a not in ENTITLEMENTS]
    if unknown:
        raise UsageError(f"--allow {unknown[0]!r}: only security.insecure is known")
    for key, value in request.labels.items():
        if not key:
            item = f"{key}={value}"
            raise UsageError(f"invalid --label {item!r}", hint="write --label KEY=VALUE")
    from builder.solve.annotations import parse_annotation
    from builder.solve.request import SolveRequest
    from builder.solve.run_options import sandbox_options

    annotations = [parse_annotation(text) for text in request.annotations]

    sandbox = sandbox_options(
        request.add_hosts, request.ulimits, request.shm_size, request.cgroup_parent
    )
    secrets: dict[str, SecretSource] = {}
    ssh: dict[str, list[Path]] = {}
    if request.secrets or request.ssh:
        from builder.solve.mounts.run import parse_secret_option, parse_ssh_option

        secrets = dict(parse_secret_option(s, request.environ) for s in request.secrets)
        ssh = dict(parse_ssh_option(s, request.environ) for s in request.ssh)
    from builder.export.outputs import parse_outputs
    from builder.image.reference import ReferenceError, parse_tag

    try:
        tags = [str(parse_tag(t)) for t in request.tags]
    except ReferenceError as err:
        raise UsageError(str(err)) from None
    outputs = parse_outputs(
        request.outputs, push=request.push, tags=request.tags, load=request.load
    )
    if any(spec.to_engine for spec in outputs):  # no engine: say so before building
        from builder.export.docker_engine import find_engine

        find_engine(request.environ)
    cache_from: list[CacheSpec] = []
    cache_to: list[CacheSpec] = []
    if request.cache_from or request.cache_to:  # the registry client is slow to import
        from builder.solve.cache.remote import parse_cache_option

        cache_from = [parse_cache_option(text, direction="from") for text in request.cache_from]
        cache_to = [parse_cache_option(text, direction="to") for text in request.cache_to]
    for spec in outputs:
        for message in spec.warnings:
            warn("output", message)
    if request.jobs < 0:
        raise UsageError("--jobs must be 0 (one per CPU) or more")
    from builder.plan.named_contexts import parse_build_context

    contexts = [parse_build_context(value) for value in request.build_contexts]
    solve = SolveRequest(
        dockerfile=data,
        context_dir=context,
        dockerfile_name=shown,
        dockerfile_path=path,
        tags=tags if any(spec.into_store for spec in outputs) else [],
        target=request.target,
        build_args=dict(request.build_args),
        labels=dict(request.labels),
        platform=request.platforms[0] if request.platforms else None,
        network="host" if request.network == "default" else request.network,
        runtime=request.runtime,
        allow_insecure="security.insecure" in request.allow,
        secrets=secrets,
        ssh=ssh,
        source_date_epoch=request.source_date_epoch,
        environ=dict(request.environ) if request.environ is not None else None,
        no_cache=request.no_cache,
        no_cache_filter=list(request.no_cache_filter),
        pull=request.pull,
        explain_cache=request.explain_cache,
        jobs=request.jobs,
        inline_cache=any(cache.type == "inline" for cache in cache_to),
        sandbox=sandbox,
        annotations=annotations,
        cancel=request.cancel,
        contexts={named.name: named for named in contexts},
    )
    return _Checked(solve, outputs, cache_from, cache_to)


def _fetch_named_contexts(solve: SolveRequest, store: Store, stack: ExitStack) -> None:
    """Fetch the `--build-context`s that are URLs; their directories go with `stack`."""
    import dataclasses

    for name, named in list(solve.contexts.items()):
        if named.url is None:
            continue
        from builder.solve.remote_context import fetched_context

        remote = stack.enter_context(fetched_context(named.url, store))
        solve.contexts[name] = dataclasses.replace(named, path=remote.root)


def _stop_if_cancelled(request: BuildRequest) -> None:
    if request.cancel is not None and request.cancel.is_set():
        raise BuildCancelled()


def _platform_of(config: ImageConfig) -> str:
    from builder.image.platform import Platform

    return str(Platform(config.os, config.architecture, config.variant))


# --- the linter ------------------------------------------------------------------------


def lint_config(
    options: PartialConfig | None = None,
    *,
    config_file: str | Path | None = None,
    buildkit_checks: bool = False,
    context: Path | None = None,
    file_path_in_report: str | None = None,
    shellcheck_cache: bool = True,
    store_root: Path | None = None,
) -> LintConfig:
    """The linter's configuration as `pybuild lint` reads it.

    `options` (the command-line flags) over the HADOLINT_* variables over the
    config file (`config_file`, else .hadolint.yaml where hadolint looks).
    `context` turns on the rules that look at the build context;
    `store_root` (default: the default store) is where base images' ENV is
    looked up. A bad option or file is a PybuildError.
    """
    from dataclasses import replace

    from builder.errors import PybuildError
    from builder.lint import resolve_config
    from builder.lint.images import local_image_env
    from builder.lint.shellcheck import default_cache_dir

    if context is not None and not Path(context).is_dir():
        raise PybuildError(f"--context {context}: not a directory")
    settings = resolve_config(
        options,
        config_file=config_file,
        buildkit_checks=buildkit_checks,
        context_dir=context,
        file_path_in_report=file_path_in_report,
        cache_dir=default_cache_dir() if shellcheck_cache else None,
    )
    return replace(settings, image_env=local_image_env(store_root))


def lint_dockerfile(
    dockerfiles: LintInput | bytes | Sequence[LintInput],
    config: LintConfig | None = None,
) -> LintResult:
    """Lint Dockerfiles: paths (`-` is stdin), `Source(text, name)`s, or one Dockerfile's bytes.

    `config` defaults to `lint_config()`. The result holds the findings
    (`result.findings`), the report (`result.render(fmt)`) and hadolint's
    exit status (`result.exit_code`).
    """
    from builder.lint import Source, lint

    if config is None:
        config = lint_config()
    if isinstance(dockerfiles, bytes):
        return lint(Source(dockerfiles), config)
    return lint(dockerfiles, config)
