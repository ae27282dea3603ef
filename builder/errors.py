"""Typed errors. Each carries where it happened so the CLI can point at it.

The CLI turns any `PybuildError` into one clear message and a non-zero exit;
a traceback is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a source file: 1-based line and column (column 0: unknown)."""

    path: str
    line: int
    column: int = 0
    end_line: int = 0
    source_line: str | None = None

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        if self.column > 0:
            return f"{self.path}:{self.line}:{self.column}"
        return f"{self.path}:{self.line}"


class PybuildError(Exception):
    """Base class of every error pybuild reports to a user."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def render(self) -> str:
        """The whole message: `file:line:col: error`, the line with a caret, a hint."""
        head = f"{self.location}: {self.message}" if self.location else self.message
        parts = [head]
        loc = self.location
        if loc is not None and loc.source_line is not None:
            text = loc.source_line.rstrip("\r\n").expandtabs(1)
            if len(text) > 200:
                start = max(0, min(loc.column - 1, len(text)) - 100)
                text = text[start : start + 200]
                caret_col = max(1, loc.column - start)
            else:
                caret_col = max(1, loc.column)
            parts.append(f"  {loc.line:>4} | {text}")
            parts.append("       | " + " " * (caret_col - 1) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ParseError(PybuildError):
    """The Dockerfile cannot be read: syntax, unknown instruction or flag."""


class PlanError(PybuildError):
    """The Dockerfile parses but cannot be planned: stages, --target, ARG, cycles."""


class ArgValueError(PlanError):
    """The plan fails because of the values ARGs have (unset, empty, or a value that
    expands to something invalid): other `--build-arg` values may build."""


class StageGraphError(PlanError):
    """The stages do not fit together: a duplicate or reserved stage name, a cycle, a
    stage used before it is defined."""


class BuildError(PybuildError):
    """A build step failed."""


class BuildCancelled(BuildError):
    """The build was stopped from outside (a signal, the caller's cancel event).

    Its running steps were killed and cleaned up. The CLI exits with the
    signal's code (128 + N); 130, as for SIGINT, when it knows no signal.
    """

    exit_code = 130

    def __init__(self, message: str = "build canceled", *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(PybuildError):
    """The command line is wrong (exit code 2, like docker build)."""

    exit_code = 2


class BakeFileError(PybuildError):
    """A bake file (compose, HCL or JSON) cannot be read or evaluated; `pybuild bake`."""


class ImageError(PybuildError):
    """An image, manifest, config or archive is malformed or unusable."""


class ImageConflictError(ImageError):
    """`rmi` refused: a container uses the image, or it has names in several repositories."""


class ImageNotFoundError(ImageError):
    """No image by that name or ID is in the local store."""


class StoreError(PybuildError):
    """The local content store cannot do what was asked (disk full, permissions, locks)."""


class LayerError(ImageError):
    """A layer tar is hostile or broken: traversal, link escapes, truncation."""


class RegistryError(PybuildError):
    """A registry refused or failed a request; the message carries its code and text."""


class EngineError(PybuildError):
    """A Docker (or Podman) engine refused or failed a request, e.g. `--load`."""


class EngineUnavailableError(EngineError):
    """No engine answers at the socket `--load` would use."""


class ContainerError(PybuildError):
    """`pybuild run` and the container commands cannot do what was asked.

    Exit code 125, as docker uses for its own failures; 126 (cannot execute)
    and 127 (not found) when the runtime says the command is the problem.
    """

    exit_code = 125

    def __init__(
        self, message: str, hint: str | None = None, *, exit_code: int | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        if exit_code is not None:
            self.exit_code = exit_code


class ContainerNotFoundError(ContainerError):
    """No container by that name, ID or unambiguous ID prefix."""
