"""Container commands: run, ps, rm, commit, diff, container prune (docker's habits).

`pybuild run` exits with the command's exit code; 125 when pybuild itself
fails, 126/127 when the command cannot be executed / is not found. SIGINT,
SIGTERM and SIGHUP kill the container (nothing is left behind) and exit with
128 + N. Without `-t` the process gets pipes (stdout and stderr arrive merged
on stdout); with `-t` a pseudo-terminal (`builder/cli/terminal.py`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from builder.errors import ContainerError, PybuildError

if TYPE_CHECKING:
    from builder.containers.listing import Sizes
    from builder.containers.record import Container
    from builder.runtime.console import Terminal

app = typer.Typer(help="Manage containers.", no_args_is_help=True)


def _fail(err: PybuildError, exit_code: int | None = None) -> None:
    """Print the error and exit: `exit_code`, else 1 as docker's other commands (2: usage)."""
    sys.stderr.write(err.render() + "\n")
    if exit_code is None:
        exit_code = 1 if isinstance(err, ContainerError) else err.exit_code
    raise typer.Exit(exit_code)


def _write(data: bytes) -> None:
    with contextlib.suppress(OSError):
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def run_command(
    image: Annotated[str, typer.Argument(help="Image to run.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="Command (replaces the image's CMD).")
    ] = None,
    rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")] = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Keep stdin open for the command.")
    ] = False,
    tty: Annotated[bool, typer.Option("--tty", "-t", help="Give the command a terminal.")] = False,
    env: Annotated[
        list[str] | None, typer.Option("--env", "-e", help="Set K=V (or K from here).")
    ] = None,
    volume: Annotated[
        list[str] | None, typer.Option("--volume", "-v", help="Bind SRC:DST[:ro].")
    ] = None,
    workdir: Annotated[
        str | None, typer.Option("--workdir", "-w", help="Working directory inside.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="USER[:GROUP].")] = None,
    network: Annotated[
        str,
        typer.Option(
            "--network", help="host (default), none, or default (its own, outbound only)."
        ),
    ] = "host",
    entrypoint: Annotated[
        str | None, typer.Option("--entrypoint", help="Replace the image's ENTRYPOINT.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name the container.")] = None,
    runtime: Annotated[str, typer.Option("--runtime", help="runc (default) or crun.")] = "runc",
) -> None:
    """Run a command in a new container (like `docker run`)."""
    import threading

    from builder.cli.images import open_store
    from builder.cli.signals import cancel_on_signals
    from builder.containers.run import RunOptions, run_container

    if tty and interactive and not sys.stdin.isatty():
        sys.stderr.write("the input device is not a TTY\n")  # docker's words and exit status
        raise typer.Exit(1)
    options = RunOptions(
        image=image, command=command or [], name=name, env=env or [], volumes=volume or [],
        workdir=workdir, user=user, network=network, entrypoint=entrypoint, remove=rm,
        runtime=runtime,
    )  # fmt: skip
    cancel = threading.Event()
    try:
        store = open_store()
        with cancel_on_signals(cancel) as caught, _terminal(tty, interactive) as terminal:
            outcome = run_container(
                store,
                options,
                output=_write,
                stdin=sys.stdin.fileno() if interactive else None,
                cancel=cancel,
                terminal=terminal,
            )
            if outcome.cancelled:
                caught.ignore_more()
    except ContainerError as err:
        _fail(err, err.exit_code)
    except PybuildError as err:
        _fail(err, 125)
    raise typer.Exit(caught.exit_code if outcome.cancelled else outcome.exit_code)


def _terminal(tty: bool, interactive: bool) -> contextlib.AbstractContextManager[Terminal | None]:
    """The user's terminal for `-t`, nothing without it."""
    if not tty:
        return contextlib.nullcontext()
    from builder.cli.terminal import user_terminal

    return user_terminal(_write, interactive)


def _sizes(container: Container, image_sizes: dict[str, int]) -> Sizes:
    from builder.cli.images import open_store
    from builder.containers.listing import Sizes
    from builder.containers.record import ContainerStore
    from builder.store.files import tree_size

    upper = ContainerStore(open_store().root).directory(container.id) / "rootfs" / "upper"
    return Sizes(tree_size(upper) if upper.is_dir() else 0, image_sizes.get(container.image, 0))


def ps_command(
    all_containers: Annotated[
        bool, typer.Option("--all", "-a", help="Show all containers (default: running).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show IDs.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
    output_format: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="'json', or a Go template like docker's."),
    ] = None,
    size: Annotated[bool, typer.Option("--size", "-s", help="Display total file sizes.")] = False,
) -> None:
    """List containers (like `docker ps`)."""
    from builder.cli.gotemplate import to_json
    from builder.cli.images import open_store
    from builder.cli.template import format_rows
    from builder.containers.listing import PS_HEADERS, ps_row
    from builder.containers.record import ContainerStore

    try:
        store = open_store()
        containers = ContainerStore(store.root).all()
        shown = [c for c in containers if all_containers or c.running]
        if quiet:
            sys.stdout.write("".join(f"{c.id if no_trunc else c.short_id}\n" for c in shown))
            return
        # docker computes sizes when asked, or when the format uses .Size
        sized = size or (output_format is not None and ".Size" in output_format)
        if output_format == "json":
            sized = True
        image_sizes = {r.id: r.size for r in store.images()} if sized else {}
        rows = [
            ps_row(c, trunc=not no_trunc, sizes=_sizes(c, image_sizes) if sized else None)
            for c in shown
        ]
        if output_format == "json":
            sys.stdout.write("".join(to_json(dict(sorted(r.items())), True) + "\n" for r in rows))
            return
        if output_format:
            sys.stdout.write(format_rows(output_format, rows, PS_HEADERS))
            return
    except PybuildError as err:
        _fail(err)
    columns = ["ID", "Image", "Command", "RunningFor", "Status", "Ports"]
    columns += ["Names", "Size"] if size else ["Names"]
    header = [PS_HEADERS[c] for c in columns]
    table = [[r[c] for c in columns] for r in rows]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        sys.stdout.write("   ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() + "\n")


def rm_command(
    containers: Annotated[list[str], typer.Argument(help="Containers (names or IDs).")],
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Stop a running container first.")
    ] = False,
) -> None:
    """Remove containers and their file systems (like `docker rm`)."""
    from builder.cli.images import open_store
    from builder.containers.record import ContainerStore
    from builder.containers.remove import remove_container

    failed = 0
    try:
        store = ContainerStore(open_store().root)
    except PybuildError as err:
        _fail(err)
    for text in containers:
        try:
            remove_container(store, store.find(text), force=force)
            sys.stdout.write(text + "\n")
        except PybuildError as err:
            sys.stderr.write(err.render() + "\n")
            failed = 1
    raise typer.Exit(failed)


def commit_command(
    container: Annotated[str, typer.Argument(help="Container (name or ID).")],
    repository: Annotated[
        str | None, typer.Argument(metavar="[REPOSITORY[:TAG]]", help="Name the image.")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")] = "",
    author: Annotated[str, typer.Option("--author", "-a", help="Author.")] = "",
    change: Annotated[
        list[str] | None,
        typer.Option("--change", "-c", help="Apply a Dockerfile instruction (CMD, ENV...)."),
    ] = None,
) -> None:
    """Create a new image from a container's changes (like `docker commit`)."""
    from builder.cli.images import open_store
    from builder.containers.commit import CommitOptions, commit_container
    from builder.containers.record import ContainerStore

    try:
        store = open_store()
        found = ContainerStore(store.root).find(container)
        options = CommitOptions(repository, message, author, tuple(change or ()))
        record = commit_container(store, found, options)
    except PybuildError as err:
        _fail(err)
    sys.stdout.write(record.id + "\n")


def diff_command(
    container: Annotated[str, typer.Argument(help="Container (name or ID).")],
) -> None:
    """List the files a container changed: A added, C changed, D deleted (like `docker diff`)."""
    from builder.cli.images import open_store
    from builder.containers.diff import changes
    from builder.containers.record import ContainerStore

    try:
        store = open_store()
        containers = ContainerStore(store.root)
        found = containers.find(container)
        lowers = [store.snapshot_path(chain) for chain in found.chains]
        upper = containers.directory(found.id) / "rootfs" / "upper"
        sys.stdout.write("".join(f"{change}\n" for change in changes(upper, lowers)))
    except PybuildError as err:
        _fail(err)


@app.command("prune")
def prune_command(
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask.")] = False,
) -> None:
    """Remove all stopped containers (like `docker container prune`)."""
    from builder.cli.images import open_store
    from builder.containers.record import ContainerStore
    from builder.containers.remove import prune_containers

    if not force:
        if not sys.stdin.isatty():
            _fail(ContainerError("refusing to prune without a terminal", hint="use --force"), 1)
        answer = input("This will remove all stopped containers. Continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return
    try:
        removed = prune_containers(ContainerStore(open_store().root))
    except PybuildError as err:
        _fail(err)
    if removed:
        sys.stdout.write("Deleted Containers:\n" + "".join(f"{i}\n" for i in removed))


app.command("ls")(ps_command)
app.command("rm")(rm_command)
app.command("commit")(commit_command)
app.command("diff")(diff_command)


def register(root: typer.Typer) -> None:
    """The top-level commands; `run` stops reading options at the image's command."""
    root.command("run", context_settings={"allow_interspersed_args": False})(run_command)
    for name, command in (
        ("ps", ps_command),
        ("rm", rm_command),
        ("commit", commit_command),
    ):  # the top-level `diff` (a container, or two images) is `builder.cli.diff`'s
        root.command(name)(command)
    app.command("run", context_settings={"allow_interspersed_args": False})(run_command)
    root.add_typer(app, name="container")
