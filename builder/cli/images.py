"""Image commands on the local store: images, inspect, history, tag, rmi, prune, du.

Output follows `docker image ls/inspect/history/tag/rm/prune` and
`docker system df`, so scripts written for docker keep working. The store
and everything under it are imported inside the commands.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from builder.errors import PybuildError, UsageError

if TYPE_CHECKING:
    from builder.store import ImageRecord, IndexRecord, Store

app = typer.Typer()


def _fail(err: PybuildError) -> None:
    sys.stderr.write(err.render() + "\n")
    raise typer.Exit(err.exit_code)


def open_store() -> Store:
    """The store at $PYBUILD_ROOT (or the default root)."""
    from builder.store import Store

    return Store.open()


def _table(rows: list[list[str]], header: list[str]) -> str:
    """Columns padded like docker's tabwriter: at least three spaces between columns."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _short(digest: str, no_trunc: bool) -> str:
    return digest if no_trunc else digest.split(":", 1)[-1][:12]


def _image_rows(store: Store, records: list[ImageRecord]) -> list[dict[str, Any]]:
    from builder.image.views import ago, human_size, split_name

    rows: list[dict[str, Any]] = []
    for record in records:
        names = list(record.names) or [""]
        for name in names:
            repository, tag = split_name(name) if name else ("<none>", "<none>")
            digest = "<none>"
            for repo_digest in record.repo_digests:
                repo, _, dig = repo_digest.partition("@")
                if name and repo == name.rsplit(":", 1)[0]:
                    digest = dig
            rows.append(
                {
                    "Containers": "N/A",
                    "CreatedAt": record.created,
                    "CreatedSince": ago(record.created),
                    "Digest": digest,
                    "ID": record.id,
                    "Repository": repository,
                    "SharedSize": "N/A",
                    "Size": human_size(record.size),
                    "Tag": tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(record.size),
                }
            )
    return rows


def _index_rows(store: Store, indexes: list[IndexRecord]) -> list[dict[str, Any]]:
    """One row per name of a multi-platform image: its index digest as ID, its platforms."""
    from builder.image.views import ago, human_size, split_name

    rows: list[dict[str, Any]] = []
    for index in indexes:
        images = [r for _, r in store.platforms_of(index.digest) or []]
        created = max((r.created for r in images), default="")
        size = sum(r.size for r in images)
        for name in index.names:
            repository, tag = split_name(name)
            digest = next(
                (d.partition("@")[2] for d in index.repo_digests
                 if d.partition("@")[0] == name.rsplit(":", 1)[0]),
                "<none>",
            )  # fmt: skip
            rows.append(
                {
                    "Containers": "N/A",
                    "CreatedAt": created,
                    "CreatedSince": ago(created),
                    "Digest": digest,
                    "ID": index.digest,
                    "Platforms": ",".join(p for p, _ in index.platforms),
                    "Repository": repository,
                    "SharedSize": "N/A",
                    "Size": human_size(size),
                    "Tag": tag,
                    "UniqueSize": "N/A",
                    "VirtualSize": human_size(size),
                }
            )
    return rows


def _matches(row: dict[str, Any], pattern: str | None) -> bool:
    """`docker images REPOSITORY[:TAG]`: exact names, or shell wildcards."""
    if not pattern:
        return True
    from fnmatch import fnmatchcase

    from builder.image.views import familiar_name

    repo_pattern, _, tag_pattern = (
        pattern.rpartition(":")
        if ":" in pattern.split("/")[-1]
        else (
            pattern,
            "",
            "",
        )
    )
    if not any(ch in repo_pattern for ch in "*?["):
        repo_pattern = familiar_name(repo_pattern)
    if not fnmatchcase(row["Repository"], repo_pattern):
        return False
    return not tag_pattern or fnmatchcase(row["Tag"], tag_pattern)


@app.command("images")
def images_command(
    repository: Annotated[
        str | None, typer.Argument(metavar="[REPOSITORY[:TAG]]", help="Only these images.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show image IDs.")] = False,
    digests: Annotated[bool, typer.Option("--digests", help="Show digests.")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
    output_format: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="'json', or a Go template like docker's."),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", "-a", help="Show all images (also intermediate ones).")
    ] = False,
    filter_specs: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="FILTER",
            help="dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, "
            "since=IMAGE (repeatable).",
        ),
    ] = None,
) -> None:
    """List images in the local store (like `docker image ls`)."""
    from builder.cli.image_filters import ImageFilters, reference_matches, select_images
    from builder.cli.template import IMAGE_HEADERS, format_rows

    try:
        store = open_store()
        filters = ImageFilters.parse(filter_specs or [])
        indexes = [i for i in store.indexes() if i.names]
        in_index = {m for i in indexes for m in i.manifests}
        # a named multi-platform image is one row; its platforms' images only with -a
        own = [
            r for r in store.images() if show_all or r.names or r.manifest_digest not in in_index
        ]
        records = select_images(store, own, filters, show_all=show_all)
        patterns = filters.get("reference")
        listed_indexes = [] if filters.get("dangling") or filters.get("label") else indexes
        multi = _index_rows(store, listed_indexes)
        if multi:
            for row in (single := _image_rows(store, records)):
                row["Platforms"] = str(store.config(store.resolve(row["ID"])).platform)
        else:
            single = _image_rows(store, records)
        rows = [
            r
            for r in multi + single
            if _matches(r, repository)
            and (
                not patterns
                or (
                    r["Tag"] != "<none>"
                    and any(reference_matches(p, f"{r['Repository']}:{r['Tag']}") for p in patterns)
                )
            )
        ]
        for row in rows:
            row["ID"] = _short(row["ID"], no_trunc)
        out = sys.stdout
        if quiet:
            seen: list[str] = []
            for row in rows:
                if row["ID"] not in seen:
                    seen.append(row["ID"])
            out.write("".join(f"{i}\n" for i in seen))
        elif output_format == "json":
            out.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
        elif output_format:
            out.write(format_rows(output_format, rows, IMAGE_HEADERS))
        else:
            header = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else [])
            header += ["IMAGE ID", "CREATED", "SIZE"] + (["PLATFORMS"] if multi else [])
            table = []
            for r in rows:
                cells = [r["Repository"], r["Tag"]] + ([r["Digest"]] if digests else [])
                platforms = [r["Platforms"]] if multi else []
                table.append([*cells, r["ID"], r["CreatedSince"], r["Size"], *platforms])
            out.write(_table(table, header))
    except PybuildError as err:
        _fail(err)


def _inspect_doc(store: Store, record: ImageRecord) -> dict[str, Any]:
    from builder.image.views import inspect_document

    manifest = store.manifest(record)
    return inspect_document(
        image_id=record.id,
        names=record.names,
        repo_digests=record.repo_digests,
        config=store.config(record),
        manifest=manifest,
        manifest_digest=record.manifest_digest,
        manifest_size=store.blob_size(record.manifest_digest),
        size=record.size,
    )


@app.command("inspect")
def inspect_command(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE...", help="Images to inspect.")],
    output_format: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="TEMPLATE", help="A Go template like docker's."),
    ] = None,
    object_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="Only objects of this type: image, container."),
    ] = None,
) -> None:
    """Show an image's details as JSON (like `docker image inspect`)."""
    from builder.cli.template import render_inspect

    try:
        _check_inspect_type(object_type, images)
        store = open_store()
        docs = []
        for name in images:
            doc = _inspect_doc(store, store.resolve(name))
            index = store.find_index(name)
            if index is not None:  # a multi-platform image: the host's, and all its platforms
                doc["Manifests"] = [
                    {"Platform": platform, "Digest": manifest}
                    for platform, manifest in index.platforms
                ]
                doc["Descriptor"] = {"mediaType": index.media_type, "digest": index.digest}
            docs.append(doc)
        if output_format:
            sys.stdout.write("".join(render_inspect(output_format, d) + "\n" for d in docs))
        else:
            sys.stdout.write(json.dumps(docs, indent=4, ensure_ascii=False) + "\n")
    except PybuildError as err:
        _fail(err)


def _check_inspect_type(object_type: str | None, names: list[str]) -> None:
    """`--type`: images are what the store holds; there are no containers to inspect yet."""
    if object_type in (None, "image"):
        return
    if object_type != "container":
        raise UsageError(f'"{object_type}" is not a valid value for --type')
    raise PybuildError("\n".join(f"No such container: {name}" for name in names))


def _parse_bool(text: str, option: str) -> bool:
    """A Go flag boolean: 1, t, true, 0, f, false (any case)."""
    value = text.strip().removeprefix("=").lower()  # click leaves the = of `-H=false`
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    _fail(UsageError(f"invalid argument {text!r} for {option}: want true or false"))
    raise AssertionError


@app.command("history")
def history_command(
    image: Annotated[str, typer.Argument(metavar="IMAGE", help="The image.")],
    human_text: Annotated[
        str,
        typer.Option(
            "--human",
            "-H",
            is_flag=False,
            flag_value="true",
            metavar="[=BOOL]",
            help="Sizes and dates in human form (-H=false: bytes and RFC 3339).",
        ),
    ] = "true",
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show image IDs.")] = False,
    output_format: Annotated[
        str | None,
        typer.Option("--format", metavar="FORMAT", help="'json', or a Go template like docker's."),
    ] = None,
) -> None:
    """Show the history of an image, newest layer first (like `docker history`)."""
    from builder.cli.template import HISTORY_HEADERS, format_rows
    from builder.image.views import ago, history_rows, human_size, rfc3339

    human = _parse_bool(human_text, "--human")

    try:
        store = open_store()
        record = store.resolve(image)
        rows = history_rows(record.id, store.config(record), store.manifest(record))
    except PybuildError as err:
        _fail(err)
        return
    out = sys.stdout
    if quiet:
        out.write("".join(_short(r.image, no_trunc) + "\n" for r in rows if r.image))
        return
    dicts = []
    for r in rows:
        created_by = r.created_by.replace("\t", " ").replace("\n", " ")
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        dicts.append(
            {
                "Comment": r.comment,
                "CreatedAt": rfc3339(r.created),
                "CreatedBy": created_by,
                "CreatedSince": ago(r.created) if human else rfc3339(r.created),
                "ID": r.image if r.image == "<missing>" else _short(r.image, no_trunc),
                "Size": human_size(r.size) if human else str(r.size),
            }
        )
    if output_format == "json":
        out.write("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dicts))
    elif output_format:
        out.write(format_rows(output_format, dicts, HISTORY_HEADERS))
    else:
        header = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        table = [
            [d["ID"], d["CreatedSince"], d["CreatedBy"], d["Size"], d["Comment"]] for d in dicts
        ]
        out.write(_table(table, header))


@app.command("tag")
def tag_command(
    source: Annotated[str, typer.Argument(metavar="SOURCE_IMAGE[:TAG]")],
    target: Annotated[str, typer.Argument(metavar="TARGET_IMAGE[:TAG]")],
) -> None:
    """Give an image another name (like `docker tag`)."""
    try:
        open_store().tag(source, target)
    except ValueError as err:  # a malformed reference
        _fail(UsageError(str(err)))
    except PybuildError as err:
        _fail(err)


@app.command("rmi")
def rmi_command(
    images: Annotated[list[str], typer.Argument(metavar="IMAGE...")],
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Remove an image even with several names.")
    ] = False,
) -> None:
    """Untag images, and delete those no name refers to any more (like `docker rmi`).

    An image a container uses keeps its last name unless `-f`, and is not
    deleted while a container exists (running: even with `-f`), as in docker.
    """
    from builder.containers.record import ContainerStore
    from builder.store.records import ImageUser

    store = open_store()
    users = [ImageUser(c.id, c.image, c.running) for c in ContainerStore(store.root).all()]
    failed = None
    for name in images:
        try:
            for line in store.remove(name, force=force, users=users):
                sys.stdout.write(line + "\n")
        except PybuildError as err:
            sys.stderr.write(err.render() + "\n")
            failed = err
    if failed is not None:
        raise typer.Exit(failed.exit_code)


def _confirm(message: str) -> bool:
    sys.stdout.write(f"{message}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


@app.command("prune")
def prune_command(
    all_images: Annotated[
        bool,
        typer.Option(
            "--all", "-a", help="Remove all images and the build cache, not just dangling images."
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask to confirm.")] = False,
) -> None:
    """Remove dangling images and the data nothing uses (like `docker image prune`)."""
    from builder.image.views import human_size

    warning = (
        "WARNING! This will remove all images and the build cache."
        if all_images
        else "WARNING! This will remove all dangling images."
    )
    if not force and not _confirm(warning):
        return
    try:
        report = open_store().prune(all_images=all_images)
    except PybuildError as err:
        _fail(err)
        return
    if report.deleted_images:
        sys.stdout.write("Deleted Images:\n")
        sys.stdout.write("".join(f"deleted: {d}\n" for d in report.deleted_images) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(report.reclaimed_bytes)}\n")
