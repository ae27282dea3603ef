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
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from builder.errors import BuildCancelled, UsageError

if TYPE_CHECKING:
    from builder.attest.options import AttestOptions
    from builder.export.output_spec import OutputSpec
    from builder.image.model import ImageConfig
    from builder.lint import LintConfig, LintResult, PartialConfig, Source
    from builder.plan.model import BuildPlan
    from builder.solve.cache.remote import CacheSource, CacheSpec
    from builder.solve.cache.types import UsedStep
    from builder.solve.mounts.secrets import SecretSource
    from builder.solve.progress import Event
    from builder.solve.request import BuildInputs, SolveRequest, SolveResult
    from builder.store import ImageRecord, IndexRecord, Store

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

#: `default`: each RUN step has its own network namespace (slirp4netns), as BuildKit's default
NETWORKS = ("default", "none", "host")
#: buildx's `--allow` entitlements; `network.host` lets RUN steps use the host's network
ENTITLEMENTS = ("network.host", "security.insecure")


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
    #: target platforms (`linux/amd64`; an item may hold several, comma-separated); empty:
    #: the host's. Several give one image per platform, named together by an image index.
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
    network: str = "default"  #: network of RUN steps: default (their own), none, or host
    runtime: str = "runc"  #: OCI runtime for RUN: runc or crun
    #: `--allow` entitlements: network.host, security.insecure (comma-separated lists too)
    allow: list[str] = field(default_factory=list)
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
    #: the client's `$SOURCE_DATE_EPOCH` (a `--build-arg SOURCE_DATE_EPOCH` wins over it):
    #: image and history times, and the mtimes of what the steps add, are clamped to it
    source_date_epoch: int | None = None
    #: `--sbom`: true/false (an SPDX SBOM attestation of the image, read from its package dbs)
    sbom: str | None = None
    #: `--provenance`: true/false/mode=min|max[,builder-id=ID,reproducible=true]
    provenance: str | None = None
    #: `--attest type=sbom|provenance[,...]`
    attest: list[str] = field(default_factory=list)
    insecure_registries: list[str] = field(default_factory=list)
    #: for bare build args, secrets and `--load`'s DOCKER_HOST (default: os.environ)
    environ: dict[str, str] | None = None
    #: where `dest=-` outputs are written (default: sys.stdout.buffer)
    stdout: BinaryIO | None = None
    progress: Callable[[Event], None] | None = None  #: receives the solver's events
    warn: Callable[[BuildWarning], None] | None = None  #: told each warning as it happens
    cancel: threading.Event | None = None  #: set it to stop the build (`BuildCancelled`)
    #: one set shared by builds run together (a bake): a step one of them ran is reused by
    #: the others even under `no_cache`; None: every build on its own
    session_keys: set[str] | None = None


@dataclass
class BuildResult:
    """What a build made and where it went."""

    image_id: str  #: the config digest (docker's IMAGE ID); several platforms: the index digest
    manifest_digest: str  #: several platforms: the index digest
    config: ImageConfig  #: several platforms: that of the host's platform, else the first
    tags: list[str]  #: full names the image got in the store (`docker.io/library/app:1`)
    platforms: dict[str, ImageRecord]  #: platform ("linux/amd64") -> its image
    used: list[UsedStep]  #: every keyed step the build ran or reused
    plan: BuildPlan
    outputs: list[OutputSpec]  #: the outputs as parsed, in order
    exported: list[str]  #: what the exports did ("naming to ...", "writing image ...")
    metadata: dict[str, Any]  #: the `--metadata-file` document
    warnings: list[BuildWarning]
    record: ImageRecord  #: the image's store record, after the exports (several: see config)
    store: Store  #: the store the image is in
    index: IndexRecord | None = None  #: several platforms: the index naming their images
    #: what the image was made from (the Dockerfile, context walk, base digests)
    inputs: BuildInputs | None = None


@dataclass
class _Checked:
    """A request, checked and parsed: what the solver and the exporters get."""

    solve: SolveRequest
    outputs: list[OutputSpec]
    cache_from: list[CacheSpec]
    cache_to: list[CacheSpec]
    attest: AttestOptions
    platforms: list[str]  #: normalized; more than one: a multi-platform build


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
    started = time.time()
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
            if len(checked.platforms) > 1:
                solves = _solve_platforms(store, checked, request)
            else:
                progress = request.progress or no_progress
                solves = {"": solve(store, checked.solve, progress=progress)}
    finally:
        if isinstance(request.progress, ProgressRenderer):
            request.progress.close()  # a live display ends before the exports
        for source in sources:
            source.close()
    _stop_if_cancelled(request)
    from builder.export.outputs import build_metadata, export_outputs

    exported: list[str] = []
    index = None
    docker = any(not spec.oci_mediatypes for spec in checked.outputs)
    if docker:  # `oci-mediatypes=false`: Docker schema 2 manifests (and manifest list)
        import dataclasses

        from builder.export.multiplatform import docker_media_types

        for key, one in solves.items():
            solves[key] = dataclasses.replace(one, record=docker_media_types(store, one.record))
    if checked.attest.any:
        exported += _attest(store, checked, solves, started=started)
    if len(solves) > 1:
        from builder.attest.generate import attestation_descriptor
        from builder.export.multiplatform import store_index
        from builder.solve.annotations import descriptor_annotations, index_annotations

        annotations = checked.solve.annotations
        index = store_index(
            store, {p: s.record for p, s in solves.items()}, docker=docker,
            annotations=index_annotations(annotations),
            descriptors={p: descriptor_annotations(annotations, p) for p in solves},
            extra=[d for s in solves.values() if (d := attestation_descriptor(store, s.record))],
        )  # fmt: skip
    solved = _main_solve(solves)
    exported += export_outputs(
        store, index or solved.record, checked.outputs, tags=request.tags,
        stdout=request.stdout if request.stdout is not None else sys.stdout.buffer,
        insecure_registries=request.insecure_registries, environ=request.environ,
    )  # fmt: skip
    for cache in checked.cache_to:
        from builder.solve.cache.remote import export_cache

        if cache.type == "inline":  # in each platform's image config
            for one in solves.values():
                exported += export_cache(store, cache, one.used, image_record=one.record)
            continue
        # one export of every platform's steps (a step shared by platforms is one record)
        exported += export_cache(
            store, cache, [u for one in solves.values() for u in one.used],
            image_record=solved.record, insecure_registries=request.insecure_registries,
        )  # fmt: skip
    record = store.find(solved.record.manifest_digest) or solved.record
    platforms = {
        p or _platform_of(s.config): store.find(s.record.manifest_digest) or s.record
        for p, s in solves.items()
    }
    if index is not None:
        index = store.find_index(index.digest) or index
    return BuildResult(
        image_id=index.digest if index is not None else record.id,
        manifest_digest=index.digest if index is not None else record.manifest_digest,
        config=solved.config,
        tags=list(dict.fromkeys(n for s in checked.outputs if s.into_store for n in s.names)),
        platforms=platforms,
        used=[u for s in solves.values() for u in s.used],
        plan=solved.plan,
        outputs=checked.outputs,
        exported=exported,
        metadata=build_metadata(store, index or record),
        warnings=warnings,
        record=record,
        store=store,
        index=index,
        inputs=solved.inputs,
    )


def _attest(
    store: Store, checked: _Checked, solves: dict[str, SolveResult], *, started: float
) -> list[str]:
    """Attach the attestations asked for to each platform's image (in `solves`, in place)."""
    import dataclasses

    from builder.solve.attestations import attest_build

    exported = []
    for platform, one in solves.items():
        request = (
            dataclasses.replace(checked.solve, platform=platform) if platform else checked.solve
        )
        record = attest_build(
            store, request, one, checked.attest, started=started, finished=time.time()
        )
        solves[platform] = dataclasses.replace(one, record=record)
        exported.append(f"exporting attestation manifest {record.attestations}")
    return exported


def _entitlements(values: list[str]) -> set[str]:
    """The `--allow` entitlements (each value may list several, comma-separated, as buildx)."""
    allowed = {item.strip() for value in values for item in value.split(",") if item.strip()}
    for item in sorted(allowed):
        if item not in ENTITLEMENTS:
            raise UsageError(
                f"--allow {item!r}: unknown entitlement",
                hint=f"known entitlements: {', '.join(ENTITLEMENTS)}",
            )
    return allowed


def _check_network(network: str, allowed: set[str]) -> None:
    if network not in NETWORKS:
        raise UsageError(
            f"--network {network!r}: expected default, none or host",
            hint="default gives each RUN step its own network; bridge and named "
            "networks are not supported",
        )
    if network == "host" and "network.host" not in allowed:
        raise UsageError(
            "--network host needs the network.host entitlement",
            hint="RUN steps then share the build machine's network, its loopback "
            "included: pass --allow network.host --network host",
        )


def _solve_platforms(
    store: Store, checked: _Checked, request: BuildRequest
) -> dict[str, SolveResult]:
    """Solve one graph per platform, one after the other, in this process and store.

    Steps with the same inputs on several platforms (a `FROM --platform=$BUILDPLATFORM`
    stage) run for the first and come from the cache for the others. The images
    get no names: the index naming them all does. Each platform's steps say it.
    """
    import dataclasses

    from builder.solve.executor import build as solve
    from builder.solve.executor import check_emulation
    from builder.solve.progress import no_progress

    for platform in checked.platforms:  # a missing emulator fails before any step runs
        check_emulation(dataclasses.replace(checked.solve, platform=platform))
    results: dict[str, SolveResult] = {}
    first_vertex = 1
    for platform in checked.platforms:
        _stop_if_cancelled(request)
        one = dataclasses.replace(
            checked.solve, platform=platform, tags=[], platform_label=True,
            first_vertex=first_vertex,
        )  # fmt: skip
        result = solve(store, one, progress=request.progress or no_progress)
        results[platform] = result
        vertices = [s.vertex for st in result.plan.stages for s in st.steps if s.vertex is not None]
        first_vertex = max(vertices, default=first_vertex - 1) + 1
    return results


def _main_solve(solves: dict[str, SolveResult]) -> SolveResult:
    """The host's platform's result (else the first): what `record` and `config` show."""
    from builder.image.platform import host_platform, parse_platform, platform_satisfies

    host = host_platform()
    for platform, result in solves.items():
        if platform and platform_satisfies(host, parse_platform(platform)):
            return result
    return next(iter(solves.values()))


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
    from builder.image.platform import parse_platforms

    try:
        platforms = [str(p) for p in parse_platforms(request.platforms)]
    except ValueError as err:
        raise UsageError(f"--platform: {err}") from None
    allowed = _entitlements(request.allow)
    _check_network(request.network, allowed)
    for key, value in request.labels.items():
        if not key:
            item = f"{key}={value}"
            raise UsageError(f"invalid --label {item!r}", hint="write --label KEY=VALUE")
    from builder.solve.annotations import check_annotation_levels, parse_annotation
    from builder.solve.request import SolveRequest
    from builder.solve.run_options import sandbox_options

    annotations = [parse_annotation(text) for text in request.annotations]
    check_annotation_levels(annotations, len(platforms))

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
    from builder.attest.options import parse_attest_options

    attest = parse_attest_options(request.sbom, request.provenance, request.attest)
    solve = SolveRequest(
        dockerfile=data,
        context_dir=context,
        dockerfile_name=shown,
        dockerfile_path=path,
        tags=tags if any(spec.into_store for spec in outputs) else [],
        target=request.target,
        build_args=_with_epoch(request.build_args, request.source_date_epoch),
        labels=dict(request.labels),
        platform=platforms[0] if platforms else None,
        network=request.network,
        runtime=request.runtime,
        allow_insecure="security.insecure" in allowed,
        allow_host_network="network.host" in allowed,
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
        session_keys=request.session_keys,
    )
    if len(platforms) > 1:
        from builder.export.multiplatform import check_outputs

        check_outputs(outputs)
    return _Checked(solve, outputs, cache_from, cache_to, attest, platforms)


def _with_epoch(build_args: dict[str, str | None], epoch: int | None) -> dict[str, str | None]:
    """The build args, with `SOURCE_DATE_EPOCH` from `epoch` unless one is given (as buildx)."""
    from builder.plan.epoch import SOURCE_DATE_EPOCH

    args = dict(build_args)
    if epoch is not None and SOURCE_DATE_EPOCH not in args:
        args[SOURCE_DATE_EPOCH] = str(epoch)
    return args


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
