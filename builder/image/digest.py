"""Content digests (`sha256:<64 hex>`): computing, checking, streaming.

A digest is kept as a plain string, the form every OCI document uses.
Anything read from outside (a registry, an archive, a file name) goes
through `parse_digest` before it names a path on disk.
"""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

from builder.errors import ImageError

_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST = re.compile(r"^(sha256|sha512):([0-9a-f]+)$")


class DigestMismatchError(ImageError):
    """Content does not hash to the digest it was announced under."""

    def __init__(self, expected: str, actual: str, what: str = "content"):
        super().__init__(
            f"{what}: digest mismatch: expected {expected}, got {actual}",
            hint="the data was corrupted or tampered with; nothing was stored",
        )
        self.expected = expected
        self.actual = actual


def parse_digest(text: str) -> str:
    """Validate `algorithm:hex` (sha256 or sha512, lower-case hex); return it."""
    m = _DIGEST.match(text)
    if m is None or len(m.group(2)) != _ALGORITHMS[m.group(1)]:
        raise ImageError(f"invalid digest {text!r}: expected sha256:<64 lower-case hex digits>")
    return text


def is_digest(text: str) -> bool:
    try:
        parse_digest(text)
    except ImageError:
        return False
    return True


def digest_hex(digest: str) -> str:
    """The hex part of a (valid) digest, e.g. for a file name."""
    return parse_digest(digest).split(":", 1)[1]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def new_hasher(digest: str) -> hashlib._Hash:
    """A hashlib object of the digest's algorithm."""
    return hashlib.new(parse_digest(digest).split(":", 1)[0])


def verify_bytes(data: bytes, expected: str, what: str = "content") -> None:
    """Raise DigestMismatchError unless `data` hashes to `expected`."""
    hasher = new_hasher(expected)
    hasher.update(data)
    actual = f"{hasher.name}:{hasher.hexdigest()}"
    if actual != expected:
        raise DigestMismatchError(expected, actual, what)


def file_digest(stream: BinaryIO, chunk: int = 1 << 20) -> tuple[str, int]:
    """sha256 digest and size of everything left in `stream`."""
    hasher = hashlib.sha256()
    size = 0
    while block := stream.read(chunk):
        hasher.update(block)
        size += len(block)
    return "sha256:" + hasher.hexdigest(), size


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs.

    ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
    """
    result: list[str] = []
    for diff_id in diff_ids:
        parse_digest(diff_id)
        if not result:
            result.append(diff_id)
        else:
            result.append(sha256_digest(f"{result[-1]} {diff_id}".encode()))
    return result
