"""`--build-context` names in the plan: they win over stages and images, as in buildx."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.dockerfile.parser import parse
from builder.errors import UsageError
from builder.plan.graph import plan
from builder.plan.model import BaseRef
from builder.plan.named_contexts import NamedContext, context_name, parse_build_context


def _bases(text: str, contexts: dict[str, str | None]) -> list[BaseRef]:
    return [s.base for s in plan(parse(text, path="Dockerfile"), contexts=contexts).stages]


def test_from_a_context_name_is_its_image_or_a_context_base() -> None:
    text = "FROM docker.io/library/alpine:latest AS a\nFROM src\nFROM a\nFROM busybox\n"
    bases = _bases(text, {"alpine": "busybox:1", "src": None, "a": "img:2"})
    assert bases == [
        BaseRef("image", "busybox:1"),
        BaseRef("context", "src"),
        BaseRef("image", "img:2"),  # the stage `a` is replaced by the context `a`
        BaseRef("image", "busybox"),
    ]


def test_copy_from_a_context_named_like_a_stage_makes_no_edge() -> None:
    text = "FROM busybox AS deps\nFROM busybox\nCOPY --from=deps /x /x\n"
    result = plan(parse(text, path="Dockerfile"), contexts={"deps": None})
    assert result.stages[1].depends_on == []
    assert not result.stages[0].needed


def test_context_names_in_their_short_form() -> None:
    assert context_name("docker.io/library/alpine:latest") == "alpine"
    assert context_name("docker.io/foo/bar:1") == "foo/bar:1"
    assert context_name("ghcr.io/a/b:latest") == "ghcr.io/a/b"


def test_parse_build_context(tmp_path: Path) -> None:
    assert parse_build_context(f"src={tmp_path}") == NamedContext("src", path=tmp_path)
    assert parse_build_context("alpine:latest=docker-image://busybox") == NamedContext(
        "alpine", image="busybox"
    )
    url = "https://example.com/r.git#main:sub"
    assert parse_build_context(f"r={url}") == NamedContext("r", url=url)
    with pytest.raises(UsageError, match="expected key=value"):
        parse_build_context("src")
    with pytest.raises(UsageError, match="invalid context name UP"):
        parse_build_context("UP=.")
    with pytest.raises(UsageError, match="failed to get build context x: stat s3://b"):
        parse_build_context("x=s3://b")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        parse_build_context(f"x={tmp_path / 'file'}")
