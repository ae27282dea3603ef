"""in-toto statements: a predicate about subjects (image manifests), as BuildKit writes them."""

from __future__ import annotations

import json
from typing import Any

from builder.attest.subject import ImageSubject

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
SPDX_PREDICATE = "https://spdx.dev/Document"
CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
SLSA_V02_PREDICATE = "https://slsa.dev/provenance/v0.2"


def statement(subject: ImageSubject, predicate_type: str, predicate: dict[str, Any]) -> bytes:
    """The statement's JSON bytes (keys sorted, so the same inputs give the same digest)."""
    hex_digest = subject.manifest_digest.split(":", 1)[1]
    doc = {
        "_type": STATEMENT_TYPE,
        "predicateType": predicate_type,
        "subject": [{"name": name, "digest": {"sha256": hex_digest}} for name in subject.purls()],
        "predicate": predicate,
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False).encode()
