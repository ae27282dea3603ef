"""The wheel must hold every package and the grammar: `pip install .` is how users get pybuild."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO


def test_every_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "builder").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert config["package-dir"]["builder._grammar"] == "grammar"
    assert (REPO / "grammar" / "dockerfile.lark").is_file()
