"""`pybuild system ...`: commands about the store as a whole (`check`, `df`, `prune`).

The work is `Store.check` (`builder/store/check.py`); this module prints its
report: one line per finding, what was repaired, and a summary. Exit 0 when
no damage remains, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from builder.cli.images import _fail, _table, open_store, prune_command
from builder.errors import PybuildError

if TYPE_CHECKING:
    from builder.store import Store
    from builder.store.check import CheckReport

app = typer.Typer(
    name="system",
    help="Manage the local store as a whole.",
    no_args_is_help=True,
    add_completion=False,
)


app.command("prune", help="Remove unused data (same as `pybuild prune`).")(prune_command)


def render_report(report: CheckReport) -> str:
    """The text `system check` prints."""
    lines = [f"checked {report.blobs} blobs, {report.images} images, {report.snapshots} snapshots"]
    for finding in report.findings:
        line = f"{finding.severity.value}: {finding.subject}: {finding.message}"
        if finding.repaired:
            line += f" [repaired: {finding.repair}]"
        lines.append(line)
    if report.unreferenced_blobs:
        lines.append(
            f"note: {report.unreferenced_blobs} blobs are used by no image "
            "(`pybuild prune` frees them)"
        )
    problems = len(report.problems)
    repaired = sum(1 for f in report.findings if f.repaired)
    if report.healthy:
        summary = "store is healthy"
    else:
        summary = f"{problems} problem{'s' if problems != 1 else ''} found"
        summary += "; run `pybuild system check --repair`" if not repaired else " after repair"
    if repaired:
        summary += f" ({repaired} repaired)"
    lines.append(summary)
    return "\n".join(lines) + "\n"


@app.command("check")
def check_command(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Remove corrupt blobs, drop images whose content is broken, unpack missing "
            "snapshots again, remove orphan snapshots and stale temp files.",
        ),
    ] = False,
) -> None:
    """Verify the store: blob digests, image closures, snapshots (waits for running builds)."""
    try:
        report = open_store().check(repair=repair)
    except PybuildError as err:
        _fail(err)
        return
    sys.stdout.write(render_report(report))
    if not report.healthy:
        raise typer.Exit(1)


@app.command("df")
def df_command(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show space usage in detail.")
    ] = False,
) -> None:
    """Show the store's disk usage (like `docker system df`)."""
    from builder.image.views import ago, human_size, split_name

    try:
        store = open_store()
        usage = store.disk_usage()
        records = store.images()
    except PybuildError as err:
        _fail(err)
        return
    cache_entries = _cache_entries(store)
    active = 0  # as docker counts: images that containers use (there are none yet)
    reclaimable = usage.images_size

    def pct(part: int, whole: int) -> str:
        return f"{human_size(part)} ({part * 100 // whole}%)" if whole else human_size(part)

    rows = [
        ["Images", str(usage.images), str(active), human_size(usage.images_size),
         pct(reclaimable, usage.images_size)],
        ["Containers", "0", "0", "0B", "0B"],
        ["Build Cache", str(len(cache_entries)), "0", human_size(usage.cache_size),
         human_size(usage.cache_size)],
    ]  # fmt: skip
    sys.stdout.write(_table(rows, ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]))
    if not verbose:
        return
    sys.stdout.write("\nImages space usage:\n\n")
    table = []
    for record in records:
        for name in record.names or ("",):
            repo, tag = split_name(name) if name else ("<none>", "<none>")
            table.append([repo, tag, record.short_id, ago(record.created), human_size(record.size)])
    sys.stdout.write(_table(table, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]))
    sys.stdout.write("\nContainers space usage:\n\n")
    sys.stdout.write(_table([], ["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE",
                                 "CREATED", "STATUS", "NAMES"]))  # fmt: skip
    sys.stdout.write("\nBuild cache usage: " + human_size(usage.cache_size) + "\n\n")
    sys.stdout.write(
        _table(
            [
                [p.stem[:12], "regular", human_size(p.stat().st_size), "false"]
                for p in cache_entries
            ],
            ["CACHE ID", "CACHE TYPE", "SIZE", "SHARED"],
        )
    )


def _cache_entries(store: Store) -> list[Path]:
    """The build cache's step records (`<root>/cache/steps/*.json`)."""
    steps = store.cache_root / "steps"
    return sorted(steps.glob("*.json")) if steps.is_dir() else []
