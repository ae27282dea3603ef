"""Attestations in the store: linked to an image record, kept and freed by prune, verified
and repaired by `system check`, and an index entry older pybuilds still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.attest.generate import attach, attested_image_index, stored_attestations
from builder.attest.manifest import Attestation
from builder.attest.statement import SPDX_PREDICATE
from builder.image.digest import sha256_digest
from builder.store import Store
from builder.store.check import Severity
from builder.store.records import StoredImage
from tests.store.images import make_layer, store_image

BASE = make_layer({"etc/base": b"base"})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


def attested(store: Store, names: tuple[str, ...] = ("app:1",)):
    record = store_image(store, [BASE], names=names)
    store.ensure_snapshots(record)
    statement = b'{"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "x"}'
    return attach(store, record, [Attestation(SPDX_PREDICATE, statement)])


def test_attach_links_the_manifest_and_its_blobs(store: Store) -> None:
    record = attested(store)
    assert record.attestations is not None
    assert store.resolve("app:1").attestations == record.attestations
    (item,) = stored_attestations(store, record)
    assert item.predicate_type == SPDX_PREDICATE
    index = attested_image_index(store, record)
    assert index is not None
    assert store.has_blob(sha256_digest(index.to_bytes()))  # stored by attach, as recomputed
    # adding the same image again (a tag, a pull, a rebuild without attestations) keeps them
    store.add_image(record.manifest_digest, names=("app:2",))
    assert store.resolve("app:2").attestations == record.attestations


def test_prune_keeps_them_with_a_named_image_and_frees_them_with_it(store: Store) -> None:
    record = attested(store)
    blobs = [record.attestations]
    store.prune()
    assert all(store.has_blob(d) for d in blobs if d)
    assert store.check().healthy
    store.remove("app:1")
    store.prune()
    assert not any(store.has_blob(d) for d in blobs if d)


def test_check_repairs_a_missing_attestation_blob_by_unlinking_it(store: Store) -> None:
    record = attested(store)
    (item,) = stored_attestations(store, record)
    store.blob_path(item.descriptor.digest).unlink()
    report = store.check()
    assert not report.healthy
    assert any("attestation blob" in f.message for f in report.findings)
    repaired = store.check(repair=True)
    assert [f.repair for f in repaired.findings if f.severity is Severity.PROBLEM] == [
        "attestations unlinked"
    ]
    after = store.resolve("app:1")
    assert after.id == record.id and after.attestations is None  # the image stays
    assert store.check().healthy


def test_index_entries_without_attestations_still_parse(store: Store) -> None:
    """An entry written by an older pybuild has no attestation keys; a new one only adds keys."""
    record = attested(store)
    entry = json.loads((store.root / "index.json").read_text())["images"][0]
    assert entry["attestations"] == record.attestations
    old = {k: v for k, v in entry.items() if k not in ("attestations", "attestationBlobs")}
    parsed = StoredImage.from_json(old)
    assert parsed.record.attestations is None and parsed.attestation_blobs == ()
    assert StoredImage.from_json(entry).to_json() == entry
