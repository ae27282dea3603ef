"""Which bake files to read, and reading them into one definition.

Without `-f`, the files buildx looks for in the working directory, in its
order, every one that exists: `compose.yaml`, `compose.yml`,
`docker-compose.yml`, `docker-compose.yaml`, `docker-bake.json`,
`docker-bake.hcl`, `docker-bake.override.json`, `docker-bake.override.hcl`.
With `-f` (repeatable; `-` is standard input), those files, each required.

A file is a compose file when its name ends in `.yml`/`.yaml` (or, for
any other name, when it is YAML with a `services` map), JSON when it ends
in `.json` (or parses as a JSON object), else HCL. As in buildx, the
compose files are read first, then the HCL and JSON files are evaluated
together and laid over them: a target defined in both is merged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from builder.bake.model import Config
from builder.errors import BakeFileError, UsageError

DEFAULT_FILES = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
)

Format = Literal["compose", "json", "hcl"]


@dataclass
class BakeFile:
    name: str  #: as given (`-` for stdin), shown in messages
    text: str


def find_files(names: list[str], cwd: Path, stdin: str | None = None) -> list[BakeFile]:
    """The files to read: `names` (`-f`), else the default names that exist in `cwd`."""
    files: list[BakeFile] = []
    if not names:
        for name in DEFAULT_FILES:
            path = cwd / name
            if path.is_file():
                files.append(BakeFile(name, _read(path, name)))
        if not files:
            raise UsageError(
                "couldn't find a bake definition",
                hint=f"write one of {', '.join(DEFAULT_FILES[:6])}, or give it with -f",
            )
        return files
    for name in names:
        if name == "-":
            files.append(BakeFile("-", stdin if stdin is not None else ""))
        else:
            files.append(BakeFile(name, _read(cwd / name, name)))
    return files


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise UsageError(f"bake file {shown!r}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"bake file {shown!r}: is a directory") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read bake file {shown!r}: {err}") from None


def detect(file: BakeFile) -> tuple[Format, object]:
    """The format of `file`, and its YAML or JSON data when it is one of those."""
    import json

    import yaml

    lower = file.name.lower()
    if lower.endswith((".yml", ".yaml")):
        try:
            return "compose", yaml.safe_load(file.text)
        except yaml.YAMLError as err:
            raise BakeFileError(f"{file.name}: invalid YAML: {err}") from None
    if lower.endswith(".json"):
        return "json", None
    if lower.endswith(".hcl"):
        return "hcl", None
    try:
        data = json.loads(file.text)
        if isinstance(data, dict):
            return "json", None
    except ValueError:
        pass
    try:
        data = yaml.safe_load(file.text)
    except yaml.YAMLError:
        return "hcl", None
    from builder.bake.compose import is_compose

    return ("compose", data) if is_compose(data) else ("hcl", None)


def load_config(files: list[BakeFile], environ: Mapping[str, str], cwd: Path) -> Config:
    """Every file read and merged as buildx merges them: compose first, then HCL/JSON.

    A BakeFileError that names a line of one of `files` shows that line.
    """
    try:
        return _load(files, environ, cwd)
    except RecursionError:  # an expression or a YAML value nested thousands deep
        raise BakeFileError(
            "a bake file nests expressions or values too deeply to evaluate"
        ) from None
    except BakeFileError as err:
        where = err.location
        text = next((f.text for f in files if where is not None and f.name == where.path), None)
        if where is not None and text is not None and where.source_line is None:
            lines = text.splitlines()
            if 0 < where.line <= len(lines):
                err.location = dataclasses.replace(where, source_line=lines[where.line - 1])
        raise


def _load(files: list[BakeFile], environ: Mapping[str, str], cwd: Path) -> Config:
    from builder.bake.compose import compose_config, is_compose
    from builder.bake.document import Document, parse_hcl, parse_json
    from builder.bake.evaluate import evaluate_documents
    from builder.bake.interpolate import compose_environment

    config = Config()
    documents: list[Document] = []
    compose_env: dict[str, str] | None = None
    for file in files:
        kind, data = detect(file)
        if kind == "compose":
            if not is_compose(data):
                if data is None or (isinstance(data, dict) and not data):
                    raise BakeFileError(f"{file.name}: empty compose file")
                raise BakeFileError(f"{file.name}: a compose file needs a services map")
            if compose_env is None:
                compose_env = compose_environment(environ, cwd)
            assert isinstance(data, dict)
            config.merge(compose_config(data, compose_env, file.name))
        elif kind == "json":
            documents.append(parse_json(file.text, file.name))
        else:
            documents.append(parse_hcl(file.text, file.name))
    if documents:
        builtins = {"BAKE_LOCAL_PLATFORM": _local_platform(), "BAKE_CMD_CONTEXT": "cwd://"}
        config.merge(evaluate_documents(documents, environ, builtins))
    return config


def _local_platform() -> str:
    from builder.image.platform import host_platform

    return str(host_platform())


def environment() -> dict[str, str]:
    """The variables bake files see: the process environment, unless buildx's switch is on."""
    value = os.environ.get("BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP", "").lower()
    if value in ("1", "t", "true"):
        return {}
    return dict(os.environ)
