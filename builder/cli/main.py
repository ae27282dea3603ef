"""The `pybuild` command: a thin typer shell over the library.

Each command parses its options, calls one library function and prints the
result. Heavy modules (lark, the parser, rich) are imported inside the
commands, so `pybuild --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from builder import __version__
from builder.cli.fastpath import Pending, try_cached
from builder.errors import BuildCancelled, PybuildError, UsageError


def _typer() -> typer.Typer:
    """The root command group, with no commands yet."""
    return typer.Typer(
        name="pybuild",
        help="Build OCI images from Dockerfiles, without a daemon; lint Dockerfiles like hadolint.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = _typer()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pybuild {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """pybuild: Dockerfile builder and linter."""


def _fail(err: PybuildError) -> NoReturn:
    sys.stderr.write(err.render() + "\n")
    raise typer.Exit(err.exit_code)


def _read_dockerfile(name: str) -> tuple[bytes, str]:
    """The Dockerfile bytes and the name to report them under (`-` is stdin)."""
    if name == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    from builder.api import read_dockerfile

    return read_dockerfile(Path(name), name), name


@app.command("parse")
def parse_command(
    file: Annotated[
        str | None, typer.Argument(help="Dockerfile to parse, or - for standard input.")
    ] = None,
    file_option: Annotated[
        str | None, typer.Option("--file", "-f", help="Dockerfile to parse (same as FILE).")
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json: one object per instruction; buildkit: BuildKit's AST dump.",
            case_sensitive=False,
        ),
    ] = "json",
) -> None:
    """Parse a Dockerfile and print its syntax tree."""
    try:
        if file and file_option:
            raise UsageError("give the Dockerfile once: as FILE or with -f, not both")
        name = file or file_option or "Dockerfile"
        fmt = output_format.lower()
        if fmt not in ("json", "buildkit"):
            raise UsageError(
                f"unknown --format {output_format!r}", hint="use --format json or --format buildkit"
            )
        data, shown = _read_dockerfile(name)
        from builder.dockerfile.dump import dump_buildkit, to_json
        from builder.dockerfile.parser import parse

        dockerfile = parse(data, path=shown)
        sys.stdout.write(
            dump_buildkit(dockerfile) if fmt == "buildkit" else to_json(dockerfile) + "\n"
        )
    except PybuildError as err:
        _fail(err)


def _build_args(values: list[str]) -> dict[str, str | None]:
    """`--build-arg K=V`, or `--build-arg K` to take K from the environment (as docker does)."""
    args: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid --build-arg {item!r}", hint="write --build-arg NAME=VALUE")
        if eq:
            args[key] = value
        elif key in os.environ:
            args[key] = os.environ[key]
    return args


@app.command("build")
def build_command(
    ctx: typer.Context,
    context: Annotated[str, typer.Argument(help="Build context: DIR, - or a git/https URL.")],
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", help="Dockerfile (default: CONTEXT/Dockerfile; - for stdin)."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Name the image NAME[:TAG] (repeatable)."),
    ] = None,
    build_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg",
            help="Set a build-time variable: NAME=VALUE, or NAME from the environment.",
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Build this stage and what it needs.")
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            help="Target platforms, comma-separated: linux/amd64,linux/arm64 "
            "(default: the host's).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the build plan; run nothing.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Run BuildKit's build checks on the Dockerfile, then stop."),
    ] = False,
    call: Annotated[
        str, typer.Option("--call", help="What to do: build, check, outline or targets.")
    ] = "build",
    plan_format: Annotated[
        str, typer.Option("--plan-format", help="Plan output with --dry-run: text or json.")
    ] = "text",
    network: Annotated[
        str,
        typer.Option(
            "--network",
            help="Network of RUN steps: default (each its own, outbound only), none, "
            "or host (needs --allow network.host).",
        ),
    ] = "default",
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret", help="Secret for RUN --mount=type=secret: id=ID[,src=FILE|,env=VAR]."
        ),
    ] = None,
    ssh: Annotated[
        list[str] | None,
        typer.Option(
            "--ssh", help="SSH agent for RUN --mount=type=ssh: default|ID[=SOCKET|KEY,...]."
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="Extra privileges: network.host (host networking for RUN), "
            "security.insecure (RUN --security=insecure).",
        ),
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Set an image label KEY=VALUE (repeatable).")
    ] = None,
    runtime: Annotated[
        str, typer.Option("--runtime", help="OCI runtime for RUN: runc (default) or crun.")
    ] = "runc",
    progress_mode: Annotated[
        str,
        typer.Option("--progress", help="Progress output: auto, plain, tty, rawjson or quiet."),
    ] = "auto",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress; print the image ID.")
    ] = False,
    iidfile: Annotated[
        str | None, typer.Option("--iidfile", help="Write the image ID to this file.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step; reuse nothing from the cache.")
    ] = False,
    no_cache_filter: Annotated[
        list[str] | None,
        typer.Option("--no-cache-filter", help="Run these stages without the cache (repeatable)."),
    ] = None,
    pull: Annotated[
        bool, typer.Option("--pull", help="Pull base images again, even when stored.")
    ] = False,
    explain_cache: Annotated[
        bool, typer.Option("--explain-cache", help="Say why each step missed the cache.")
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Stages run at once (default: CPUs, at least 4).")
    ] = 0,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output",
            "-o",
            help="Output: type=image|docker|oci|tar|local|registry[,dest=...] (repeatable).",
        ),
    ] = None,
    push: Annotated[bool, typer.Option("--push", help="Push the image (-t names).")] = False,
    load: Annotated[
        bool, typer.Option("--load", help="Load the image into Docker (type=docker output).")
    ] = False,
    metadata_file: Annotated[
        str | None, typer.Option("--metadata-file", help="Write build metadata (JSON) here.")
    ] = None,
    insecure_registry: Annotated[
        list[str] | None,
        typer.Option("--insecure-registry", help="Plain HTTP / unverified TLS for this host."),
    ] = None,
    cache_from: Annotated[
        list[str] | None,
        typer.Option(
            "--cache-from", help="Reuse steps from type=registry,ref=R | type=local,src=DIR."
        ),
    ] = None,
    cache_to: Annotated[
        list[str] | None,
        typer.Option(
            "--cache-to",
            help="Export the cache: type=registry,ref=R[,mode=min|max], type=local,dest=DIR, "
            "type=inline.",
        ),
    ] = None,
    annotation: Annotated[
        list[str] | None,
        typer.Option(
            "--annotation", help="Annotate the image manifest: [manifest:]KEY=VALUE (repeatable)."
        ),
    ] = None,
    build_context: Annotated[
        list[str] | None,
        typer.Option("--build-context", help="Extra context NAME=DIR|docker-image://REF|URL."),
    ] = None,
    add_host: Annotated[
        list[str] | None,
        typer.Option("--add-host", help="Add NAME:IP to RUN steps' /etc/hosts (repeatable)."),
    ] = None,
    ulimit: Annotated[
        list[str] | None,
        typer.Option("--ulimit", help="Limit of RUN steps: TYPE=SOFT[:HARD], e.g. nofile=1024."),
    ] = None,
    shm_size: Annotated[
        str | None, typer.Option("--shm-size", help="Size of RUN steps' /dev/shm, e.g. 128m.")
    ] = None,
    cgroup_parent: Annotated[
        str | None, typer.Option("--cgroup-parent", help="Parent cgroup of RUN containers.")
    ] = None,
    sbom: Annotated[
        str | None,
        typer.Option("--sbom", help="Attach an SPDX SBOM attestation: true or false."),
    ] = None,
    provenance: Annotated[
        str | None,
        typer.Option(
            "--provenance",
            help="Attach SLSA provenance: true, false or mode=min|max[,builder-id=ID].",
        ),
    ] = None,
    attest: Annotated[
        list[str] | None,
        typer.Option(
            "--attest", help="Attest: type=sbom or type=provenance[,mode=min|max] (repeatable)."
        ),
    ] = None,
    # docker build's flags that BuildKit ignores (builder/cli/legacy_flags.py), hidden as in buildx
    _rm: Annotated[bool, typer.Option("--rm", hidden=True)] = True,
    _force_rm: Annotated[bool, typer.Option("--force-rm", hidden=True)] = False,
    _compress: Annotated[bool, typer.Option("--compress", hidden=True)] = False,
    _content_trust: Annotated[bool, typer.Option("--disable-content-trust", hidden=True)] = True,
    _stream: Annotated[bool, typer.Option("--stream", hidden=True)] = False,
    squash: Annotated[bool, typer.Option("--squash", hidden=True)] = False,
    isolation: Annotated[str | None, typer.Option("--isolation", hidden=True)] = None,
    security_opt: Annotated[list[str] | None, typer.Option("--security-opt", hidden=True)] = None,
    _memory: Annotated[str | None, typer.Option("--memory", "-m", hidden=True)] = None,
    _memory_swap: Annotated[str | None, typer.Option("--memory-swap", hidden=True)] = None,
    _cpu_shares: Annotated[int, typer.Option("--cpu-shares", "-c", hidden=True)] = 0,
    _cpu_period: Annotated[int, typer.Option("--cpu-period", hidden=True)] = 0,
    _cpu_quota: Annotated[int, typer.Option("--cpu-quota", hidden=True)] = 0,
    _cpuset_cpus: Annotated[str | None, typer.Option("--cpuset-cpus", hidden=True)] = None,
    _cpuset_mems: Annotated[str | None, typer.Option("--cpuset-mems", hidden=True)] = None,
) -> None:
    """Build an image from a Dockerfile (like `docker build`)."""
    from builder.api import default_dockerfile

    try:
        if plan_format not in ("text", "json"):
            raise UsageError(f"unknown --plan-format {plan_format!r}", hint="use text or json")
        method = "check" if check else parse_call(call).name
        if method != "build":
            name = file if file is not None else str(default_dockerfile(Path(context)))
            data, shown = _read_dockerfile(name)
            if method == "check":
                raise typer.Exit(_run_checks(data, shown, context))
            sys.stdout.write(run_call(method, data, shown, target, _build_args(build_arg or [])))
            raise typer.Exit(0)
        remote = context != "-" and _is_remote(context)
        if context != "-" and not remote and not Path(context).is_dir():
            raise UsageError(
                f"build context {context!r} is not a directory",
                hint="pass the directory that holds your sources, e.g. `pybuild build .`",
            )
        from builder.image.reference import ReferenceError, parse_tag

        try:
            tags = [parse_tag(t).familiar for t in tag or []]
        except ReferenceError as exc:
            raise UsageError(
                str(exc), hint="a tag looks like name, name:tag or registry/name:tag"
            ) from None
        options = _BuildOptions(
            tags=tag or [], build_args=_build_args(build_arg or []), target=target,
            platform=platform, network=network, secrets=secret or [], ssh=ssh or [],
            allow=allow or [], labels=label or [], runtime=runtime, progress=progress_mode,
            quiet=quiet, iidfile=iidfile, no_cache=no_cache,
            no_cache_filter=no_cache_filter or [], pull=pull, explain_cache=explain_cache,
            jobs=jobs, outputs=output or [], push=push, load=load, metadata_file=metadata_file,
            insecure_registries=insecure_registry or [], cache_from=cache_from or [],
            cache_to=cache_to or [], add_hosts=add_host or [], ulimits=ulimit or [],
            shm_size=shm_size, cgroup_parent=cgroup_parent, annotations=annotation or [],
            build_contexts=build_context or [], sbom=sbom, provenance=provenance,
            attest=attest or [], fastpath=ctx.obj if isinstance(ctx.obj, Pending) else None,
        )  # fmt: skip
        from builder.cli.legacy_flags import ignored_flag_warnings

        for message in ignored_flag_warnings(
            isolation=isolation, security_opt=security_opt or [], squash=squash
        ):
            sys.stderr.write(f"WARNING: {message}\n")
        if context == "-" and not dry_run:
            if file == "-":
                raise UsageError("the context and the Dockerfile cannot both come from stdin")
            with _context_from_stdin() as (unpacked, stdin_dockerfile):
                if stdin_dockerfile is not None:  # a Dockerfile on stdin: an empty context
                    _run_build(options, unpacked, stdin_dockerfile, "Dockerfile")
                    return
                name = file or str(default_dockerfile(Path(unpacked)).name)
                _read_dockerfile(os.path.join(unpacked, name))  # a missing one: named as unpacked
                _run_build(options, unpacked, Path(unpacked, name), name)
            return
        if remote and not dry_run:
            _build_remote(options, context, file)
            return
        name = file if file is not None else str(default_dockerfile(Path(context)))
        if not dry_run:
            if name == "-":
                data, shown = _read_dockerfile(name)
                _run_build(options, context, data, shown)
            else:
                _run_build(options, context, Path(name), name)
            return
        data, shown = _read_dockerfile(name)
        from builder.dockerfile.parser import parse
        from builder.plan.graph import plan
        from builder.plan.render import render_json, render_text

        dockerfile = parse(data, path=shown)
        build_plan = plan(
            dockerfile,
            target=target,
            build_args=options.build_args,
            platform=platform.split(",")[0].strip() if platform else None,  # the first one's
            environ=dict(os.environ),
        )
        if plan_format == "json":
            import json

            data = json.loads(render_json(build_plan))
            data["tags"] = tags
            out = json.dumps(data, indent=2, sort_keys=True) + "\n"
        else:
            out = render_text(build_plan)
            if tags:
                out = f"tags: {', '.join(tags)}\n{out}"
        sys.stdout.write(out if out.endswith("\n") else out + "\n")
    except PybuildError as err:
        _fail(err)


@dataclass
class _BuildOptions:
    """`pybuild build`'s options, as given."""

    tags: list[str]
    build_args: dict[str, str | None]
    target: str | None
    platform: str | None
    network: str
    secrets: list[str]
    ssh: list[str]
    allow: list[str]
    labels: list[str]
    runtime: str
    progress: str
    quiet: bool
    iidfile: str | None
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    explain_cache: bool = False
    jobs: int = 0
    outputs: list[str] = field(default_factory=list)
    push: bool = False
    load: bool = False
    metadata_file: str | None = None
    insecure_registries: list[str] = field(default_factory=list)
    cache_from: list[str] = field(default_factory=list)
    cache_to: list[str] = field(default_factory=list)
    add_hosts: list[str] = field(default_factory=list)
    ulimits: list[str] = field(default_factory=list)
    shm_size: str | None = None
    cgroup_parent: str | None = None
    annotations: list[str] = field(default_factory=list)
    build_contexts: list[str] = field(default_factory=list)
    sbom: str | None = None
    provenance: str | None = None
    attest: list[str] = field(default_factory=list)
    #: the fast path's miss on this command line: its record is written after the build
    fastpath: Pending | None = None


@contextmanager
def _context_from_stdin() -> Iterator[tuple[str, bytes | None]]:
    """`pybuild build -`: a tar (plain or compressed) context, or a Dockerfile, on stdin.

    A tar is unpacked with the layer unpacker's hostile-input checks into a
    private dir of the store, removed afterwards. Anything else is the
    Dockerfile (its bytes are yielded), with an empty context, as docker does.
    """
    from builder.cli.images import open_store
    from builder.context.stdin import is_archive, read_head
    from builder.snapshot.apply import apply_layer
    from builder.snapshot.trees import remove_tree

    if sys.stdin.isatty():
        raise UsageError("context `-` reads a tar or a Dockerfile from stdin, but it is a terminal")
    head, stream = read_head(sys.stdin.buffer)
    directory = open_store().temp_dir("context")
    try:
        (directory / "ctx").mkdir()
        if not is_archive(head):
            yield str(directory / "ctx"), stream.read()
            return
        apply_layer(stream, directory / "ctx", compression="auto", allow_devices=False)
        yield str(directory / "ctx"), None
    finally:
        remove_tree(directory, ignore_errors=True)  # any depth: the tar is the user's


def _is_remote(context: str) -> bool:
    from builder.solve.remote_context import is_remote_context

    return is_remote_context(context)


def _build_remote(options: _BuildOptions, url: str, file: str | None) -> None:
    """`pybuild build URL`: a git repository or a tarball fetched into the store, then removed.

    `-f` is relative to the fetched context; a download that is not an
    archive is the Dockerfile of an empty context, as docker takes it.
    """
    from builder.api import default_dockerfile
    from builder.cli.images import open_store
    from builder.solve.remote_context import fetched_context

    with fetched_context(url, open_store()) as remote:
        root = str(remote.root)
        if remote.dockerfile is not None:
            _run_build(options, root, remote.dockerfile, "Dockerfile")
        elif file == "-":
            data, shown = _read_dockerfile(file)
            _run_build(options, root, data, shown)
        else:
            name = file or default_dockerfile(remote.root).name
            _run_build(options, root, remote.root / name, name)


def _run_build(options: _BuildOptions, context: str, dockerfile: Path | bytes, shown: str) -> None:
    """Build with `builder.build` and print its result; every failure is a PybuildError.

    SIGINT, SIGTERM and SIGHUP cancel the build (`builder.cli.signals`): it
    stops and cleans up, and the command exits with the signal's code.
    """
    import threading

    from builder.api import BuildRequest, BuildWarning, build
    from builder.cli.build_progress import LiveProgress
    from builder.cli.signals import cancel_on_signals
    from builder.export.outputs import write_metadata_file
    from builder.plan.epoch import parse_epoch
    from builder.solve.progress import MODES

    if options.progress not in MODES:
        raise UsageError(
            f"--progress {options.progress!r}: expected auto, plain, tty, rawjson or quiet"
        )
    quiet = options.quiet or options.progress == "quiet"

    def warn(warning: BuildWarning) -> None:
        prefix = "warning" if warning.topic == "output" else "WARNING"
        sys.stderr.write(f"{prefix}: {warning.message}\n")

    epoch = parse_epoch(os.environ.get("SOURCE_DATE_EPOCH"), where="$SOURCE_DATE_EPOCH")
    cancel = threading.Event()
    request = BuildRequest(
        context=Path(context), dockerfile=dockerfile, dockerfile_name=shown,
        tags=options.tags, build_args=options.build_args, target=options.target,
        platforms=[options.platform] if options.platform else [], load=options.load,
        labels=_labels(options.labels), outputs=options.outputs, push=options.push,
        cache_from=options.cache_from, cache_to=options.cache_to, secrets=options.secrets,
        ssh=options.ssh, network=options.network, runtime=options.runtime, allow=options.allow,
        no_cache=options.no_cache, no_cache_filter=options.no_cache_filter, pull=options.pull,
        explain_cache=options.explain_cache, jobs=options.jobs, add_hosts=options.add_hosts,
        ulimits=options.ulimits, shm_size=options.shm_size, cgroup_parent=options.cgroup_parent,
        annotations=options.annotations, build_contexts=options.build_contexts,
        source_date_epoch=epoch,
        sbom=options.sbom, provenance=options.provenance, attest=options.attest,
        insecure_registries=options.insecure_registries, stdout=sys.stdout.buffer,
        progress=LiveProgress("quiet" if quiet else options.progress, sys.stderr), warn=warn,
        cancel=cancel,
    )  # fmt: skip
    iid_dir = Path(options.iidfile).absolute().parent if options.iidfile else None
    if iid_dir is not None and not iid_dir.is_dir():  # checked before building, not after
        raise UsageError(f"--iidfile {options.iidfile}: no such directory {iid_dir}")
    with cancel_on_signals(cancel) as caught:
        try:
            result = build(request)
        except BuildCancelled:
            caught.ignore_more()
            _cancelled(caught.exit_code)
    if options.iidfile:
        try:
            Path(options.iidfile).write_text(result.image_id)
        except OSError as exc:
            raise PybuildError(
                f"built {result.image_id}, but cannot write it to --iidfile "
                f"{options.iidfile}: {exc.strerror or exc}"
            ) from None
    if options.metadata_file:
        write_metadata_file(
            options.metadata_file, result.index or result.record, store=result.store
        )
    if quiet:
        if not any(spec.to_stdout for spec in result.outputs):
            sys.stdout.write(result.image_id + "\n")
    else:
        if not any(line.startswith("writing image") for line in result.exported):
            sys.stderr.write(f"writing image {result.image_id} done\n")
        for line in result.exported:
            sys.stderr.write(f"{line} done\n")
    if options.fastpath is not None:
        from builder.cli.fastpath_record import save_record

        save_record(options.fastpath, result)


def _cancelled(exit_code: int) -> NoReturn:
    """A cancelled build: one line (the terminal may be gone: SIGHUP), no traceback."""
    with contextlib.suppress(OSError):
        sys.stderr.write("ERROR: build canceled\n")
        sys.stderr.flush()
    raise typer.Exit(exit_code)


def _labels(values: list[str]) -> dict[str, str]:
    """`--label KEY=VALUE` options as a dict."""
    labels: dict[str, str] = {}
    for item in values:
        key, _, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid --label {item!r}", hint="write --label KEY=VALUE")
        labels[key] = value
    return labels


from builder.cli.lint import lint_command  # noqa: E402
from builder.cli.outline import parse_call, run_call  # noqa: E402  (its heavy imports are lazy)

app.command("lint")(lint_command)


def _run_checks(data: bytes, shown: str, context: str) -> int:
    """`build --check`: BuildKit's build checks, printed as BuildKit prints them.

    Exit status 1 when anything is found, as `docker build --check` does.
    """
    from builder.lint import LintConfig, RuleSet, Source, lint
    from builder.lint.engine import family_rules
    from builder.lint.images import local_image_env

    context_dir = Path(context) if context != "-" and Path(context).is_dir() else None
    config = LintConfig(
        buildkit_checks=True,
        context_dir=context_dir,
        shellcheck=False,
        image_env=local_image_env(),
    )
    rules = RuleSet(buildkit=family_rules("buildkit"))
    result = lint(Source(data.decode("utf-8", "surrogateescape"), shown), config, rules=rules)
    lines = data.decode("utf-8", "replace").splitlines()
    out = []
    for f in result.findings:
        level = "ERROR" if f.severity.label == "error" else "WARN"
        out.append(f"{level}: {f.code}")
        out.append(f.message)
        out.append(f"{f.path}:{f.line}")
        if 0 < f.line <= len(lines):
            out.append(f" {f.line:>4} | >>> {lines[f.line - 1]}")
        out.append("")
    count = len(result.findings)
    if count == 0:
        out.append("Check complete, no warnings found.")
    else:
        noun = "warning has" if count == 1 else "warnings have"
        out.append(f"Check complete, {count} {noun} been found!")
    sys.stdout.write("\n".join(out) + "\n")
    return 1 if count else 0


def _register_image_commands() -> None:
    """The image and registry commands live in their own modules."""
    from builder.cli import (
        attestations,
        bake,
        containers,
        diff,
        groups,
        images,
        system,
        transfer,
    )

    for name, command in (
        ("images", images.images_command),
        ("inspect", images.inspect_command),
        ("history", images.history_command),
        ("tag", images.tag_command),
        ("rmi", images.rmi_command),
        ("prune", images.prune_command),
        ("du", transfer.du_command),
        ("pull", transfer.pull_command),
        ("push", transfer.push_command),
        ("import", transfer.import_command),
        ("save", transfer.save_command),
        ("load", transfer.load_command),
        ("login", transfer.login_command),
        ("logout", transfer.logout_command),
        ("bake", bake.bake_command),
        ("sbom", attestations.sbom_command),
        ("attestations", attestations.attestations_command),
    ):
        app.command(name)(command)
    app.add_typer(system.app, name="system")
    app.add_typer(groups.image_app, name="image")
    app.add_typer(groups.builder_app, name="builder")
    containers.register(app)
    app.command("diff")(diff.diff_command)


_register_image_commands()


#: commands that never touch the store's snapshots or mounts: no user namespace for them
_WITHOUT_NAMESPACE = frozenset({"lint", "parse", "login", "logout"})


def _needs_user_namespace(args: list[str]) -> bool:
    """Whether this command, run by a user other than root, goes into a user namespace.

    Not for help, the version, the linter and registry logins; everything
    else may mount or own files for other ids in the store.
    """
    if os.geteuid() == 0:
        return False
    from builder.runtime.userns import MARKER

    if os.environ.get(MARKER):
        return False
    positions = [i for i, arg in enumerate(args) if not arg.startswith("-")]
    if not positions or args[positions[0]] in _WITHOUT_NAMESPACE:
        return False
    # `run IMAGE sh --help`: that --help is the container's; only look before the image.
    checked = args
    if args[positions[0]] == "run" and len(positions) > 1:
        checked = args[: positions[1]]
    elif args[positions[0]] == "container" and len(positions) > 2 and args[positions[1]] == "run":
        checked = args[: positions[2]]
    return not any(arg in ("-h", "--help", "--version") for arg in checked)


def _enter_user_namespace(args: list[str]) -> None:
    """A rootless command continues in a user namespace of its own (`builder.runtime.userns`)."""
    if not _needs_user_namespace(args):
        return
    from builder.runtime.userns import enter
    from builder.store.paths import default_root

    enter(default_root())


def _app_for(argv: list[str]) -> typer.Typer:
    """`app`, or for `pybuild COMMAND ...` an app holding only that command.

    typer builds the parser of every registered command before it runs one
    (about 90 commands: most of the CLI's start-up); a command needs only its
    own. Usage lines, help and errors stay those of `pybuild COMMAND`.
    """
    name = argv[0] if argv else ""
    for info in app.registered_commands:
        if info.name == name:
            one = _typer()
            one.registered_callback = app.registered_callback
            one.registered_commands = [info]
            return one
    return app


def main() -> None:
    """`python -m builder.cli.main`: the fast path, then the full CLI (`builder.cli.entry`)."""
    argv = sys.argv[1:]
    served, pending = try_cached(argv)
    if served:
        sys.exit(0)
    run(argv, pending)


def run(argv: list[str], pending: Pending | None = None) -> None:
    """The full CLI on `argv`; a build writes `pending`'s fast-path record when it can."""
    try:
        from builder.cli.legacy_flags import normalize_bool_values

        args = normalize_bool_values(argv)
        _enter_user_namespace(args)
        _app_for(argv)(args=args, obj=pending)
    except KeyboardInterrupt:
        sys.stderr.write("pybuild: interrupted\n")
        sys.exit(130)
    except PybuildError as err:  # raised outside a command's own handler
        sys.stderr.write(err.render() + "\n")
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
