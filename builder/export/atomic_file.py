"""Writing an output file all at once: a temp file next to it, fsynced, then renamed.

A reader never sees half a file, and a failed export leaves whatever was
at the path before (no temp file is left behind either).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from builder.errors import ImageError


def write_atomically(path: Path, write: Callable[[BinaryIO], None], *, mode: int = 0o644) -> None:
    """Call `write(stream)` on a temp file next to `path`; rename it to `path` when done.

    Missing parent directories are made. OSError becomes ImageError naming `path`;
    errors raised by `write` pass through (and the temp file is removed).
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        with open(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as err:
        raise ImageError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
