"""Finding an image by what a user types: name[:tag], name@digest, ID or ID prefix.

Docker's order: a full 64-hex ID (with or without `sha256:`) is an ID; else
the text is a reference (`debian` = `docker.io/library/debian:latest`); a
reference that names nothing may still be an ID prefix of 4+ hex digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from builder.errors import ImageError, ImageNotFoundError
from builder.image.reference import Reference, ReferenceError, parse_reference, parse_tag
from builder.store.index import ImageIndex
from builder.store.records import IndexRecord, StoredImage

_ID = re.compile(r"(?:sha256:)?([0-9a-f]{4,64})")
_MIN_PREFIX = 4

MatchKind = Literal["name", "repo_digest", "id"]


@dataclass(frozen=True)
class Match:
    image: StoredImage  #: for an index: the image of the host's platform (else the first)
    kind: MatchKind  #: how the text matched
    key: str  #: the normalized name, repo digest, or the image ID (index digest)
    index: IndexRecord | None = None  #: the multi-platform image the text names, if any


def normalize_name(text: str) -> str:
    """A full tagged name (`docker.io/library/debian:latest`); ImageError if invalid."""
    try:
        return str(parse_tag(text))
    except ReferenceError as err:
        raise ImageError(str(err)) from None


def normalize_repo_digest(text: str) -> str:
    """A full `name@digest`; ImageError if invalid or without a digest."""
    try:
        ref = parse_reference(text, default_tag=None)
    except ReferenceError as err:
        raise ImageError(str(err)) from None
    if ref.digest is None:
        raise ImageError(f"invalid repository digest {text!r}: expected name@sha256:<hex>")
    return f"{ref.name}@{ref.digest}"


def familiar(full: str) -> str:
    """`debian:bookworm` for `docker.io/library/debian:bookworm` (as docker prints it)."""
    try:
        return parse_reference(full, default_tag=None).familiar
    except ReferenceError:
        return full


def repository(full: str) -> str:
    """`docker.io/library/debian` for a full name or repo digest."""
    try:
        return parse_reference(full, default_tag=None).name
    except ReferenceError:
        return full


def not_found(text: str) -> ImageNotFoundError:
    return ImageNotFoundError(
        f'image "{text}" not found locally; pull it with `pybuild pull {text}` '
        f"or build it with `pybuild build -t {text} .`"
    )


def default_entry(record: IndexRecord) -> str:
    """The manifest digest of an index's image for the host's platform (else its first)."""
    from builder.image.platform import host_platform, parse_platform, platform_satisfies

    host = host_platform()
    for text, manifest in record.platforms:
        try:
            if platform_satisfies(host, parse_platform(text)):
                return manifest
        except ValueError:
            continue
    return record.platforms[0][1]


def _index_match(index: ImageIndex, record: IndexRecord, kind: MatchKind, key: str) -> Match | None:
    if not record.platforms:
        return None
    image = index.image_with_manifest(default_entry(record))
    if image is None:
        return None
    return Match(image, kind, key, record)


def _by_id_prefix(index: ImageIndex, hex_prefix: str, text: str) -> Match | None:
    found = [i for i in index.images.values() if i.record.id[7:].startswith(hex_prefix)]
    multi = [i for i in index.indexes.values() if i.digest[7:].startswith(hex_prefix)]
    if len(found) + len(multi) > 1:
        raise ImageError(
            f'ambiguous image ID prefix "{text}": it matches {len(found) + len(multi)} images',
            hint="give more digits of the ID, or the image's name",
        )
    if multi:  # `images` shows a multi-platform image's index digest as its ID
        return _index_match(index, multi[0], "id", multi[0].digest)
    return Match(found[0], "id", found[0].record.id) if found else None


def _by_full_digest(index: ImageIndex, digest: str) -> Match | None:
    image = index.images.get(digest)
    if image is not None:
        return Match(image, "id", digest)
    if digest in index.indexes:
        return _index_match(index, index.indexes[digest], "id", digest)
    for image in index.images.values():  # a manifest digest also names its image
        if image.record.manifest_digest == digest:
            return Match(image, "id", image.record.id)
    return None


def _by_reference(index: ImageIndex, ref: Reference) -> Match | None:
    if ref.digest is None:
        name = str(ref)
        image = index.with_name(name)
        if image is None and (multi := index.index_with_name(name)) is not None:
            return _index_match(index, multi, "name", name)
        return Match(image, "name", name) if image else None
    repo_digest = f"{ref.name}@{ref.digest}"
    multi = index.index_with_repo_digest(repo_digest)
    if multi is not None:
        return _index_match(index, multi, "repo_digest", repo_digest)
    image = index.with_repo_digest(repo_digest)
    if image is not None:
        return Match(image, "repo_digest", repo_digest)
    for image in index.images.values():  # the platform manifest of an image of that repository
        record = image.record
        repos = {repository(n) for n in record.names + record.repo_digests}
        if record.manifest_digest == ref.digest and ref.name in repos:
            return Match(image, "id", record.id)
    return None


def lookup(index: ImageIndex, text: str) -> Match | None:
    """The image `text` names, or None. ImageError if the text is invalid or ambiguous."""
    id_match = _ID.fullmatch(text)
    if text.startswith("sha256:"):
        if id_match is None:
            raise ImageError(
                f'invalid image ID "{text}": expected sha256: and 4 to 64 lower-case hex digits'
            )
        hex_part = id_match.group(1)
        if len(hex_part) == 64:
            return _by_full_digest(index, text)
        return _by_id_prefix(index, hex_part, text)
    if id_match is not None and len(id_match.group(1)) == 64:
        return _by_full_digest(index, "sha256:" + text)
    try:
        ref: Reference | None = parse_reference(text)
    except ReferenceError as err:
        if id_match is None:
            raise ImageError(str(err)) from None
        ref = None
    if ref is not None and (match := _by_reference(index, ref)) is not None:
        return match
    if id_match is not None and len(id_match.group(1)) >= _MIN_PREFIX:
        return _by_id_prefix(index, id_match.group(1), text)
    return None
