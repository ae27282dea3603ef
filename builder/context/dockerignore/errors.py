"""What a bad pattern or a bad ignore file raises."""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: The ignore file's name (BuildKit also reads `<Dockerfile>.dockerignore`).
DOCKERIGNORE: Final = ".dockerignore"


class BadPatternError(ValueError):
    """A pattern Go's `filepath.Match` rejects (`syntax error in pattern`)."""


class DockerignoreError(ValueError):
    """A `.dockerignore` file that BuildKit would refuse; the message names the line."""

    def __init__(self, message: str, source: Path | None = None, line: int = 0) -> None:
        self.source = source
        self.line = line
        where = f"{source.name if source else DOCKERIGNORE}:{line}: " if line else ""
        super().__init__(where + message)
