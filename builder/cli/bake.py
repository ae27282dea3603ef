"""`pybuild bake`: build the targets of compose, HCL and JSON bake files, like `docker buildx bake`.

Thin: read the files (`builder.bake.files`), resolve the targets asked for
with the `--set` overrides (`builder.bake.resolve`), then print them
(`--print`) or build them all at once (`builder.bake.run`), with one
progress display. `--push`, `--load`, `--no-cache` and `--pull` are
`--set *.push=true` ... as in buildx. SIGINT, SIGTERM and SIGHUP cancel
every build. Exit codes: 0, 1 when a target fails (its error is printed
with the target's name), 2 for a usage error (an unknown target or
`--set` key), 128+N for a signal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from builder.errors import BuildCancelled, PybuildError, UsageError

if TYPE_CHECKING:
    from builder.bake.resolve import Resolved


def _fail(err: PybuildError) -> None:
    sys.stderr.write(err.render() + "\n")
    raise typer.Exit(err.exit_code)


def bake_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Targets or groups to build (default: the group or target 'default')."),
    ] = None,
    file: Annotated[
        list[str] | None,
        typer.Option(
            "--file", "-f", help="Bake file: compose, HCL or JSON (repeatable; - for stdin)."
        ),
    ] = None,
    set_values: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a target value: TARGET.KEY=VALUE (TARGET may be *)."),
    ] = None,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the resolved targets as JSON; build nothing.")
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Push every image (same as --set *.push=true).")
    ] = False,
    load: Annotated[
        bool, typer.Option("--load", help="Load every image into Docker (--set *.load=true).")
    ] = False,
    progress_mode: Annotated[
        str,
        typer.Option("--progress", help="Progress output: auto, plain, tty, rawjson or quiet."),
    ] = "auto",
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not use the cache (--set *.no-cache=true).")
    ] = False,
    pull: Annotated[
        bool, typer.Option("--pull", help="Pull base images again (--set *.pull=true).")
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Targets built at once (default: all).")
    ] = 0,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Set a variable: NAME=VALUE (over the environment)."),
    ] = None,
    metadata_file: Annotated[
        str | None,
        typer.Option("--metadata-file", help="Write each target's build metadata (JSON) here."),
    ] = None,
    list_what: Annotated[
        str | None,
        typer.Option(
            "--list", help="List targets or variables (targets, variables, type=...,format=json)."
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="Grant an entitlement the targets ask for: security.insecure, network.host.",
        ),
    ] = None,
) -> None:
    """Build several images at once from a compose or bake file (like `docker buildx bake`)."""
    try:
        _bake(
            targets or [], file or [], set_values or [], print_only=print_only, push=push,
            load=load, progress_mode=progress_mode, no_cache=no_cache, pull=pull, jobs=jobs,
            variables=var or [], metadata_file=metadata_file, allow=allow or [],
            list_what=list_what,
        )  # fmt: skip
    except PybuildError as err:
        _fail(err)


def _bake(
    names: list[str], files: list[str], set_values: list[str], *, print_only: bool,
    push: bool, load: bool, progress_mode: str, no_cache: bool, pull: bool, jobs: int,
    variables: list[str], metadata_file: str | None, allow: list[str], list_what: str | None,
) -> None:  # fmt: skip
    from builder.bake.files import environment, find_files, load_config
    from builder.bake.resolve import resolve
    from builder.solve.progress import MODES

    if progress_mode not in MODES:
        raise UsageError(
            f"--progress {progress_mode!r}: expected auto, plain, tty, rawjson or quiet"
        )
    if jobs < 0:
        raise UsageError("--jobs must be 0 (every target at once) or more")
    for entitlement in allow:
        if entitlement not in ("security.insecure", "network.host"):
            raise UsageError(
                f"--allow {entitlement!r}: only security.insecure and network.host can be granted"
            )
    cwd = Path.cwd()
    if not files and os.environ.get("BUILDX_BAKE_FILE"):  # buildx's alternative to -f
        separator = os.environ.get("BUILDX_BAKE_PATH_SEPARATOR") or os.pathsep
        files = [f for f in os.environ["BUILDX_BAKE_FILE"].split(separator) if f]
    stdin = sys.stdin.read() if "-" in files else None
    environ = environment()
    for item in variables:
        name, eq, value = item.partition("=")
        if not name or not eq:
            raise UsageError(f"invalid --var {item!r}", hint="write --var NAME=VALUE")
        environ[name] = value
    config = load_config(find_files(files, cwd, stdin), environ, cwd)
    if list_what is not None:
        from builder.bake.listing import parse_list, render_list

        sys.stdout.write(render_list(config, parse_list(list_what)))
        return
    overrides = list(set_values)
    for flag, override in ((push, "*.push=true"), (load, "*.load=true"),
                           (no_cache, "*.no-cache=true"), (pull, "*.pull=true")):  # fmt: skip
        if flag:
            overrides.append(override)
    resolved = resolve(config, names, overrides, environ)
    if print_only:
        from builder.bake.printing import render

        sys.stdout.write(render(resolved))
        return
    metadata_dir = Path(metadata_file).absolute().parent if metadata_file else None
    if metadata_dir is not None and not metadata_dir.is_dir():  # checked before building
        raise UsageError(f"--metadata-file {metadata_file}: no such directory {metadata_dir}")
    _build(resolved, cwd, progress_mode, jobs, metadata_file, allow)


def _build(
    resolved: Resolved, cwd: Path, progress_mode: str, jobs: int, metadata_file: str | None,
    allow: list[str],
) -> None:  # fmt: skip
    import threading

    from builder.bake.run import bake, requests_for
    from builder.cli.build_progress import LiveProgress
    from builder.cli.images import open_store
    from builder.cli.signals import cancel_on_signals

    requests = requests_for(resolved, cwd=cwd, allow=allow)
    if not requests:
        raise UsageError("nothing to build: the targets asked for are empty groups")
    display = LiveProgress(progress_mode, sys.stderr)

    def warn(target: str, warning: object) -> None:
        sys.stderr.write(f"WARNING: {target}: {warning}\n")

    cancel = threading.Event()
    with cancel_on_signals(cancel) as caught:
        try:
            results = bake(
                requests, store=open_store(), jobs=jobs, progress=display, warn=warn,
                cancel=cancel,
            )  # fmt: skip
        except BuildCancelled:
            display.close()
            caught.ignore_more()
            with contextlib.suppress(OSError):
                sys.stderr.write("ERROR: build canceled\n")
            raise typer.Exit(caught.exit_code) from None
        finally:
            display.close()
    if metadata_file:  # buildx's layout: one object per target
        import json

        document = {done.name: done.result.metadata for done in results}
        try:
            Path(metadata_file).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise PybuildError(f"cannot write --metadata-file {metadata_file}: {exc}") from None
    if progress_mode == "quiet":
        return
    for done in results:
        result = done.result
        if not any(line.startswith("writing image") for line in result.exported):
            sys.stderr.write(f"{done.name}: writing image {result.image_id} done\n")
        for line in result.exported:
            sys.stderr.write(f"{done.name}: {line} done\n")
