"""Commands that move images in and out: pull, push, import, save, load, login, logout, du.

Output follows docker's (`docker pull/push/import/save/load/login/logout`,
`docker system df`), so habits and scripts carry over. Libraries are
imported inside the commands to keep `pybuild --help` fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from builder.cli.images import _fail, _table, open_store
from builder.errors import PybuildError, UsageError

if TYPE_CHECKING:
    from builder.export.selection import ImageSelection
    from builder.image.platform import Platform
    from builder.image.reference import Reference
    from builder.store import Store

_INSECURE_HELP = "Allow plain HTTP and unverified TLS for this registry (localhost always may)."


def _platform(text: str | None) -> Platform | None:
    if text is None:
        return None
    from builder.image.platform import parse_platform

    try:
        return parse_platform(text)
    except ValueError as err:
        raise UsageError(f"--platform: {err}") from None


def pull_command(
    reference: Annotated[str, typer.Argument(metavar="NAME[:TAG|@DIGEST]")],
    platform: Annotated[
        str | None, typer.Option("--platform", metavar="PLATFORM", help="e.g. linux/arm64.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the name.")] = False,
    insecure: Annotated[bool, typer.Option("--insecure-registry", help=_INSECURE_HELP)] = False,
    all_tags: Annotated[
        bool, typer.Option("--all-tags", "-a", help="Pull every tag of the repository.")
    ] = False,
) -> None:
    """Download an image from a registry (like `docker pull`)."""
    from builder.image.reference import ReferenceError, parse_reference
    from builder.registry.client import RegistryClient

    try:
        try:
            ref = parse_reference(reference, default_tag=None if all_tags else "latest")
        except ReferenceError as err:
            raise UsageError(str(err)) from None
        store = open_store()
        if not all_tags:
            _pull_one(store, ref, platform, quiet=quiet, insecure=insecure, status=True)
            sys.stdout.write(f"{ref}\n")
            return
        if ref.tag or ref.digest:
            raise UsageError("tag can't be used with --all-tags/-a")
        with RegistryClient(ref.registry, insecure=insecure) as client:
            tags = sorted(client.list_tags(ref.path))
        if not tags:
            raise PybuildError(f"repository {ref.name} has no tags")
        fresh = False
        for tag in tags:
            tagged = parse_reference(f"{ref.name}:{tag}")
            fresh |= _pull_one(store, tagged, platform, quiet=quiet, insecure=insecure,
                               status=False)  # fmt: skip
        if not quiet:
            status = "Downloaded newer image for" if fresh else "Image is up to date for"
            sys.stdout.write(f"Status: {status} {ref.familiar}\n")
        sys.stdout.write(f"{ref.name}\n")
    except PybuildError as err:
        _fail(err)


def _pull_one(
    store: Store, ref: Reference, platform: str | None, *, quiet: bool, insecure: bool,
    status: bool,
) -> bool:  # fmt: skip
    """Pull one tag or digest with docker's output; True when it brought a newer image."""
    from builder.cli.transfer_progress import TransferProgress
    from builder.registry.pull import pull

    before = store.find(str(ref))
    out = sys.stdout
    progress = TransferProgress("pull", quiet=quiet, stream=out)
    if not quiet:
        out.write(f"{ref.tag or ref.digest}: Pulling from {ref.path}\n")
        out.flush()
    with progress:
        record = pull(store, ref, platform=_platform(platform), progress=progress,
                      insecure=insecure)  # fmt: skip
    fresh = before is None or before.manifest_digest != record.manifest_digest
    if not quiet:
        digest = next(
            (d.rpartition("@")[2] for d in record.repo_digests if d.startswith(ref.name + "@")),
            record.manifest_digest,
        )
        progress.say(f"Digest: {digest}")
        if status:
            word = "Downloaded newer image for" if fresh else "Image is up to date for"
            progress.say(f"Status: {word} {ref.familiar}")
    return fresh


def push_command(
    image: Annotated[str, typer.Argument(metavar="NAME[:TAG]", help="A stored image.")],
    destination: Annotated[
        str | None,
        typer.Argument(metavar="[DESTINATION]", help="Where to push (default: the image's name)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress progress.")] = False,
    insecure: Annotated[bool, typer.Option("--insecure-registry", help=_INSECURE_HELP)] = False,
    all_tags: Annotated[
        bool, typer.Option("--all-tags", "-a", help="Push every stored tag of the repository.")
    ] = False,
) -> None:
    """Upload an image to a registry (like `docker push`)."""
    from builder.image.reference import ReferenceError, parse_reference

    try:
        try:
            ref = parse_reference(destination or image, default_tag=None if all_tags else "latest")
        except ReferenceError as err:
            raise UsageError(str(err)) from None
        store = open_store()
        if not all_tags:
            _push_one(store, image, destination, ref, quiet=quiet, insecure=insecure)
            return
        if destination is not None:
            raise UsageError("--all-tags pushes a repository's own tags: give no DESTINATION")
        if ref.tag or ref.digest:
            raise UsageError("tag can't be used with --all-tags/-a")
        names = sorted(
            {n for r in store.images() for n in r.names if n.rpartition(":")[0] == ref.name}
        )
        if not names:
            raise PybuildError(f"An image does not exist locally with the tag: {ref.familiar}")
        if not quiet:
            sys.stdout.write(f"The push refers to repository [{ref.name}]\n")
        for name in names:
            tagged = parse_reference(name)
            _push_one(store, name, None, tagged, quiet=quiet, insecure=insecure, header=False)
    except PybuildError as err:
        _fail(err)


def _push_one(
    store: Store, image: str, destination: str | None, ref: Reference, *, quiet: bool,
    insecure: bool, header: bool = True,
) -> None:  # fmt: skip
    """Push one stored image with docker's output."""
    from builder.cli.transfer_progress import TransferProgress
    from builder.registry.push import push

    record = store.resolve(image)
    progress = TransferProgress("push", quiet=quiet, stream=sys.stdout)
    if not quiet and header:
        progress.say(f"The push refers to repository [{ref.name}]")
    with progress:
        digest = push(store, image, destination, progress=progress, insecure=insecure)
    if not quiet:
        size = store.blob_size(record.manifest_digest)
        progress.say(f"{ref.tag}: digest: {digest} size: {size}")


def import_command(
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="A root filesystem tarball.")],
    name: Annotated[str | None, typer.Argument(metavar="[REPOSITORY[:TAG]]")] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Commit message for the history.")
    ] = None,
    change: Annotated[
        list[str] | None,
        typer.Option(
            "--change",
            "-c",
            metavar="INSTRUCTION",
            help="Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, "
            "LABEL, ONBUILD, USER, VOLUME, WORKDIR; repeatable).",
        ),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            metavar="PLATFORM",
            help="The tarball's platform (default: the host's). The name keeps its other "
            "platforms: import one tarball per platform under one name.",
        ),
    ] = None,
) -> None:
    """Make a one-layer image from a root filesystem tarball (like `docker import`)."""
    from functools import partial

    from builder.cli.import_changes import apply_changes, parse_changes
    from builder.export.rootfs_import import import_rootfs, rfc3339
    from builder.plan.epoch import parse_epoch

    try:
        changes = parse_changes(change or [])
        store = open_store()
        src: Path | BinaryIO = sys.stdin.buffer if source == "-" else Path(source)
        if isinstance(src, Path) and not src.is_file():
            raise UsageError(f"cannot import {source!r}: no such file")
        edit = partial(apply_changes, changes=changes) if changes else None
        epoch = parse_epoch(os.environ.get("SOURCE_DATE_EPOCH"), where="$SOURCE_DATE_EPOCH")
        created = rfc3339(epoch) if epoch is not None else None
        wanted = _platform(platform)
        record = import_rootfs(
            store, src, name, message=message, created=created, edit_config=edit, platform=wanted
        )
        sys.stdout.write(record.id + "\n")
        offered = store.platforms_of(name) if name and wanted is not None else None
        if offered is not None and len(offered) > 1:
            shown = ", ".join(p for p, _ in offered)
            sys.stderr.write(f"added {wanted} to {name}, which now has {shown}\n")
    except PybuildError as err:
        _fail(err)


def save_command(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE...")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="Write to FILE.")
    ] = None,
    archive_format: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="docker|oci|oci-dir",
            help="docker: for `docker load` (default); oci: an OCI archive; oci-dir: a layout dir.",
        ),
    ] = "docker",
) -> None:
    """Save images to a tar archive (like `docker save`)."""
    from builder.export.oci_layout import save_oci
    from builder.export.selection import select_images

    try:
        if archive_format not in ("docker", "oci", "oci-dir"):
            raise UsageError(f"--format {archive_format!r}: expected docker, oci or oci-dir")
        if archive_format == "oci-dir" and output is None:
            raise UsageError("--format oci-dir needs -o DIRECTORY")
        if output is None and sys.stdout.isatty():
            raise UsageError(
                "cowardly refusing to save to a terminal",
                hint="use the -o flag or redirect standard output",
            )
        store = open_store()
        selections = select_images(store, images)
        if archive_format == "oci-dir":
            assert output is not None
            save_oci(store, selections, Path(output), tar=False)
            return
        if output is None or output == "-":
            _save_stream(store, selections, archive_format, sys.stdout.buffer)
            return
        target = Path(output)
        temp = target.with_name(f".{target.name}.pybuild-tmp")
        try:
            with temp.open("wb") as stream:
                _save_stream(store, selections, archive_format, stream)
            temp.replace(target)
        except OSError as err:
            raise UsageError(f"cannot write {output}: {err.strerror}") from None
        finally:
            temp.unlink(missing_ok=True)
    except PybuildError as err:
        _fail(err)


def _save_stream(
    store: Store, selections: list[ImageSelection], archive_format: str, stream: BinaryIO
) -> None:
    from builder.export.docker_archive import save_docker_archive
    from builder.export.oci_layout import save_oci

    if archive_format == "docker":
        save_docker_archive(store, selections, stream)
    else:
        save_oci(store, selections, stream, tar=True)


def load_command(
    source: Annotated[
        str | None,
        typer.Option("--input", "-i", metavar="FILE", help="Read from FILE or a layout directory."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Suppress the load output.")] = False,
) -> None:
    """Load images from a docker-archive, an OCI archive or an OCI layout (like `docker load`)."""
    from builder.export.load import load_archive

    try:
        if source is None and sys.stdin.isatty():
            raise UsageError(
                "requested load from stdin, but stdin is empty",
                hint="give the archive with -i FILE or redirect standard input",
            )
        store = open_store()
        src: Path | BinaryIO
        if source is None or source == "-":
            src = sys.stdin.buffer
        else:
            src = Path(source)
            if not src.exists():
                raise UsageError(f"cannot load {source!r}: no such file or directory")

        def warn(message: str) -> None:
            sys.stderr.write(f"warning: {message}\n")

        records = load_archive(store, src, warn=warn)
        if not quiet:
            from builder.image.views import familiar_name
            from builder.store import ImageRecord

            # a multi-platform image is one line, under its name
            in_index = {m for r in records if not isinstance(r, ImageRecord) for m in r.manifests}
            for record in records:
                if record.names:
                    for name in record.names:
                        sys.stdout.write(f"Loaded image: {familiar_name(name)}\n")
                elif isinstance(record, ImageRecord) and record.manifest_digest not in in_index:
                    sys.stdout.write(f"Loaded image ID: {record.id}\n")
    except PybuildError as err:
        _fail(err)


def _server(text: str | None) -> str:
    """`docker.io` for none; a registry host from `https://host/` or `host`."""
    if not text:
        return "docker.io"
    host = text.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


def login_command(
    server: Annotated[str | None, typer.Argument(metavar="[SERVER]")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password: Annotated[str | None, typer.Option("--password", "-p")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Take the password from stdin.")
    ] = False,
    insecure: Annotated[bool, typer.Option("--insecure-registry", help=_INSECURE_HELP)] = False,
) -> None:
    """Log in to a registry; credentials go to ~/.docker/config.json (like `docker login`)."""
    from builder.registry.client import RegistryClient
    from builder.registry.credentials import Credentials, store_credentials

    try:
        registry = _server(server)
        if password and password_stdin:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        if password_stdin:
            if not username:
                raise UsageError("must provide --username with --password-stdin")
            password = sys.stdin.readline().rstrip("\r\n")
        elif password:
            sys.stderr.write(
                "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
            )
        if not username:
            if not sys.stdin.isatty():
                raise UsageError("cannot ask for a username: stdin is not a terminal",
                                 hint="give --username and --password-stdin")  # fmt: skip
            username = input("Username: ").strip()
        if not password:
            import getpass

            password = getpass.getpass("Password: ")
        if not username or not password:
            raise UsageError("username and password are required")
        credentials = Credentials(username, password)
        with RegistryClient(registry, insecure=insecure, credentials=credentials) as client:
            client.login()
        where = store_credentials(registry, username, password)
        if not where.startswith("docker-credential-"):
            sys.stderr.write(f"WARNING! Your password will be stored unencrypted in {where}.\n")
        sys.stdout.write("Login Succeeded\n")
    except PybuildError as err:
        _fail(err)


def logout_command(
    server: Annotated[str | None, typer.Argument(metavar="[SERVER]")] = None,
) -> None:
    """Remove a registry's credentials from ~/.docker/config.json (like `docker logout`)."""
    from builder.registry.credentials import erase_credentials

    try:
        registry = _server(server)
        if erase_credentials(registry):
            sys.stdout.write(f"Removing login credentials for {registry}\n")
        else:
            sys.stdout.write(f"Not logged in to {registry}\n")
    except PybuildError as err:
        _fail(err)


def du_command(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every image.")] = False,
) -> None:
    """Show the store's disk usage (like `docker system df`)."""
    from builder.image.views import human_size

    try:
        store = open_store()
        usage = store.disk_usage()
    except PybuildError as err:
        _fail(err)
        return
    active = usage.images - usage.dangling_images

    def pct(part: int, whole: int) -> str:
        return f"{human_size(part)} ({part * 100 // whole}%)" if whole else human_size(part)

    rows = [
        ["Images", str(usage.images), str(active), human_size(usage.images_size),
         pct(usage.reclaimable, usage.blobs_size + usage.snapshots_size + usage.temp_size)],
        ["Layer snapshots", str(usage.snapshots), str(usage.snapshots),
         human_size(usage.snapshots_size), "0B"],
        ["Build cache", "-", "-", human_size(usage.cache_size), human_size(usage.cache_size)],
    ]  # fmt: skip
    sys.stdout.write(_table(rows, ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]))
    if verbose:
        from builder.image.views import ago, split_name

        sys.stdout.write("\nImages space usage:\n\n")
        table = []
        for record in store.images():
            repo, tag = split_name(record.names[0]) if record.names else ("<none>", "<none>")
            table.append([repo, tag, record.short_id, ago(record.created), human_size(record.size)])
        sys.stdout.write(_table(table, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]))
