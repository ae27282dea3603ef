"""`pybuild system ...`: commands about the store as a whole (`system check`).

The work is `Store.check` (`builder/store/check.py`); this module prints its
report: one line per finding, what was repaired, and a summary. Exit 0 when
no damage remains, 1 otherwise.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from builder.cli.images import _fail, open_store
from builder.errors import PybuildError

if TYPE_CHECKING:
    from builder.store.check import CheckReport

app = typer.Typer(
    name="system",
    help="Manage the local store as a whole.",
    no_args_is_help=True,
    add_completion=False,
)


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
