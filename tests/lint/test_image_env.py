"""UndefinedVar knows a base image's ENV when the local store has the image."""

from __future__ import annotations

from pathlib import Path

from builder.image import mediatypes
from builder.image.model import Descriptor, ImageConfig, Manifest
from builder.lint import LintConfig, RuleSet, Source, lint
from builder.lint.engine import family_rules
from builder.lint.images import local_image_env
from builder.store import Store

DOCKERFILE = "FROM python:3.12\nCOPY app-$PYTHON_VERSION.txt /app/\n"


def _undefined(config: LintConfig) -> list[str]:
    rules = RuleSet(buildkit=family_rules("buildkit"))
    result = lint(Source(DOCKERFILE, "Dockerfile"), config, rules=rules)
    return [f.message for f in result.findings if f.code == "UndefinedVar"]


def _store_with_python(root: Path) -> None:
    store = Store.open(root)
    config = ImageConfig(architecture="amd64", os="linux")
    config.config.env = ["PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.12.7"]
    data = config.to_bytes()
    digest = store.put_blob(data)
    manifest = Manifest(config=Descriptor(mediatypes.OCI_CONFIG, digest, len(data)), layers=())
    store.add_image(store.put_blob(manifest.to_bytes()), names=["docker.io/library/python:3.12"])


def test_without_a_store_the_variable_is_unknown(tmp_path: Path) -> None:
    assert local_image_env(tmp_path / "no-store") is None
    messages = _undefined(LintConfig(buildkit_checks=True, shellcheck=False))
    assert messages == ["Usage of undefined variable '$PYTHON_VERSION'"]


def test_a_stored_base_image_defines_it(tmp_path: Path) -> None:
    _store_with_python(tmp_path / "store")
    env = local_image_env(tmp_path / "store")
    assert env is not None
    config = LintConfig(buildkit_checks=True, shellcheck=False, image_env=env)
    assert _undefined(config) == []
    # an image the store does not have is linted as before
    assert env("debian:12") is None
