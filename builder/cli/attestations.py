"""`pybuild sbom IMAGE` and `pybuild attestations IMAGE`: what is inside, where it came from."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from builder.cli.images import _fail, open_store
from builder.errors import PybuildError, UsageError

SBOM_FORMATS = ("spdx-json", "cyclonedx-json")
KINDS = {"sbom": "https://spdx.dev/Document", "provenance": "https://slsa.dev/provenance/v0.2"}


def sbom_command(
    image: Annotated[str, typer.Argument(help="A stored image: name, ID or digest.")],
    output_format: Annotated[
        str, typer.Option("--format", help="spdx-json (SPDX 2.3) or cyclonedx-json (1.5).")
    ] = "spdx-json",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write it to FILE instead of stdout.")
    ] = None,
) -> None:
    """Print the SBOM of a stored image, read from its package databases (no scanner)."""
    from builder.attest.generate import image_files, image_subject, rfc3339, sbom_document

    try:
        if output_format not in SBOM_FORMATS:
            raise UsageError(
                f"--format {output_format!r}: expected {' or '.join(SBOM_FORMATS)}",
            )
        store = open_store()
        record = store.resolve(image)
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        created = rfc3339(int(epoch) if epoch and epoch.isdigit() else None)
        doc = sbom_document(
            image_subject(store, record),
            image_files(store, record),
            fmt=output_format,
            created=created,
        )
        _write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", output)
    except PybuildError as err:
        _fail(err)


def attestations_command(
    image: Annotated[str, typer.Argument(help="A stored image: name, ID or digest.")],
    kind: Annotated[
        str | None, typer.Option("--type", help="Only sbom or provenance statements.")
    ] = None,
    predicate: Annotated[
        bool, typer.Option("--predicate", help="Print only the predicates, not the statements.")
    ] = False,
) -> None:
    """Print the in-toto attestations stored with an image (`--sbom`, `--provenance`)."""
    from builder.attest.generate import stored_attestations

    try:
        if kind is not None and kind not in KINDS:
            raise UsageError(f"--type {kind!r}: expected sbom or provenance")
        store = open_store()
        record = store.resolve(image)
        if record.attestations is None:
            raise PybuildError(
                f"image {image} has no attestations",
                hint="build it with --sbom=true or --provenance=mode=max",
            )
        docs = []
        for item in stored_attestations(store, record):
            if kind is not None and item.predicate_type != KINDS[kind]:
                continue
            doc = item.document()
            docs.append(doc.get("predicate") if predicate else doc)
        sys.stdout.write(json.dumps(docs, indent=2, ensure_ascii=False) + "\n")
    except PybuildError as err:
        _fail(err)


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise PybuildError(f"cannot write {output}: {err.strerror or err}") from None
