"""Helpers for bake tests: write bake files into a directory, resolve them as `--print` does."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from builder.bake.files import find_files, load_config
from builder.bake.printing import render
from builder.bake.resolve import resolve
from tests.cli.test_image_commands import PYBUILD
from tests.conftest import REPO


def write_files(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return directory


def printed(
    directory: Path,
    targets: list[str] | None = None,
    *,
    files: list[str] | None = None,
    set_values: list[str] | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What `pybuild bake --print` shows for the bake files of `directory`, as JSON data."""
    env = environ or {}
    config = load_config(find_files(files or [], directory), env, directory)
    text = render(resolve(config, targets or [], set_values or [], env))
    return json.loads(text)  # type: ignore[no-any-return]


def run_bake(
    directory: Path, *args: str, root: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """`pybuild bake ARGS` run in `directory` against the store `root`."""
    return subprocess.run(
        [*PYBUILD, "bake", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root), **(env or {})},
        timeout=timeout,
        check=False,
    )
