"""Ignore files: which one a build uses, and reading its lines as moby does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from builder.context.dockerignore.errors import DOCKERIGNORE, BadPatternError, DockerignoreError
from builder.context.dockerignore.gopath import go_clean
from builder.context.dockerignore.matcher import IgnoreMatcher
from builder.context.dockerignore.pattern import IgnorePattern
from builder.dockerfile.text import go_trim_space

_UTF8_BOM: Final = b"\xef\xbb\xbf"


def read_ignore_lines(data: bytes | str) -> list[tuple[int, str]]:
    """The patterns of an ignore file as `ignorefile.ReadAll` returns them, with line numbers."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    out: list[tuple[int, str]] = []
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if number == 1 and line.startswith(_UTF8_BOM):
            line = line[len(_UTF8_BOM) :]
        if line.endswith(b"\r"):
            line = line[:-1]
        text = line.decode("utf-8", "surrogateescape")
        if text.startswith("#"):
            continue
        pattern = go_trim_space(text)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = go_trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append((number, ("!" if invert else "") + pattern))
    return out


def parse_ignore_file(data: bytes | str, source: Path | None = None) -> IgnoreMatcher:
    """Compile the text of an ignore file. Raises `DockerignoreError` naming the bad line."""
    compiled = []
    for number, text in read_ignore_lines(data):
        try:
            compiled.append(IgnorePattern.compile(text, number))
        except BadPatternError as exc:
            raise DockerignoreError(f"{exc}: {text!r}", source, number) from None
    return IgnoreMatcher(compiled, source)


def find_ignore_file(
    context_dir: str | os.PathLike[str], dockerfile_path: str | os.PathLike[str] | None = None
) -> Path | None:
    """The ignore file a build uses: `<Dockerfile>.dockerignore` next to the Dockerfile
    when it exists (BuildKit), else the context's `.dockerignore`, else None."""
    if dockerfile_path is not None and str(dockerfile_path) not in ("", "-"):
        dockerfile = Path(dockerfile_path)
        specific = dockerfile.with_name(dockerfile.name + DOCKERIGNORE)
        if specific.is_file():
            return specific
    default = Path(context_dir) / DOCKERIGNORE
    return default if default.is_file() else None


def load_ignore_patterns(
    context_dir: str | os.PathLike[str], dockerfile_path: str | os.PathLike[str] | None = None
) -> IgnoreMatcher:
    """The compiled ignore patterns of a build (an empty matcher when there is no file).

    Raises `DockerignoreError` when the file cannot be read or holds a bad pattern.
    """
    path = find_ignore_file(context_dir, dockerfile_path)
    if path is None:
        return IgnoreMatcher()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DockerignoreError(f"cannot read {path}: {exc.strerror or exc}", path) from None
    return parse_ignore_file(data, path)
