from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.image.reference import ReferenceError, parse_reference, parse_tag

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest", "familiar"),
    [
        ("debian", "docker.io/library/debian", "latest", None, "debian:latest"),
        ("debian:bookworm-slim", "docker.io/library/debian", "bookworm-slim", None, "debian:bookworm-slim"),
        ("team/app", "docker.io/team/app", "latest", None, "team/app:latest"),
        ("localhost/app", "localhost/app", "latest", None, "localhost/app:latest"),
        ("localhost:5000/team/app:1.0", "localhost:5000/team/app", "1.0", None, "localhost:5000/team/app:1.0"),
        (f"127.0.0.1:5000/a@{DIGEST}", "127.0.0.1:5000/a", None, DIGEST, f"127.0.0.1:5000/a@{DIGEST}"),
        ("gcr.io/distroless/static:nonroot", "gcr.io/distroless/static", "nonroot", None, "gcr.io/distroless/static:nonroot"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox", "latest", None, "busybox:latest"),
        ("a__b.c-d---e/f", "docker.io/a__b.c-d---e/f", "latest", None, "a__b.c-d---e/f:latest"),
    ],
)  # fmt: skip
def test_parse(text: str, name: str, tag: str | None, digest: str | None, familiar: str) -> None:
    ref = parse_reference(text)
    assert (ref.name, ref.tag, ref.digest, ref.familiar) == (name, tag, digest, familiar)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Debian", "lowercase"),
        ("team/App", "lowercase"),
        ("a b", "expected"),
        ("app:", "expected"),
        ("app:" + "t" * 129, "expected"),
        ("-app", "expected"),
        ("app@sha256:xyz", "expected"),
        ("a" * 300, "longer than 255"),
    ],
)
def test_invalid(text: str, why: str) -> None:
    with pytest.raises(ReferenceError, match=why):
        parse_reference(text)


def test_tag_cannot_have_digest() -> None:
    with pytest.raises(ReferenceError, match="digest"):
        parse_tag(f"app@{DIGEST}")
    assert str(parse_tag("sshd")) == "docker.io/library/sshd:latest"


@given(st.text(max_size=80))
def test_never_crashes(text: str) -> None:
    with contextlib.suppress(ReferenceError):
        parse_reference(text)
