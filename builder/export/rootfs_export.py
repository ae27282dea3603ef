"""The image's final root filesystem as files: `-o type=tar` and `-o type=local`.

Flattening: the image's layers are applied in order, with
`apply_layer(overlay=False)`, into a private temp dir under the store's
tmp/ (so the hostile-input rules hold, whiteouts delete what lower layers
made, and each layer is checked against its config diff_id). A store lease
is held meanwhile, so prune neither removes the blobs nor the temp dir.
Directory mtimes that a layer changed only as a side effect (it added a
file to a directory it does not list itself) are set back, so the same
image always gives the same tar.

- tar: the tree is written with the snapshot package's deterministic layer
  writer, uncompressed (sorted, whole-second mtimes, uid/gid kept, empty
  uname/gname, xattrs as SCHILY records, hardlinks kept).
- local: when `dest` does not exist yet and is on the store's filesystem,
  the tree is renamed into place. Otherwise the tree is streamed (the same
  tar, through a pipe) into `dest` with `apply_layer`: files are written
  inside `dest`, an image entry replaces what is at its path (a directory
  over a directory merges), and nothing is ever written through a symlink
  found in `dest`: such a symlink is replaced, never followed. `dest`
  itself may be a symlink to a directory (the user named it); its own
  mode and owner are left as they are.

Ownership: as root, owners, setuid/setgid bits, devices and
trusted/security xattrs are kept. As non-root, every file belongs to the
user running pybuild (in the directory and in the tar), devices are
skipped, and directories the image makes unwritable can stop a later
layer from applying. (buildx's local exporter always gives files to the
current user; pybuild keeps the image's owners when it can.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from builder.errors import ImageError, LayerError, UsageError
from builder.image import mediatypes

if TYPE_CHECKING:
    from builder.store import ImageRecord, Store

__all__ = ["flattened_rootfs", "remove_tree", "write_rootfs_dir", "write_rootfs_tar"]

_RENAME_FALLBACK = (errno.EXDEV, errno.EEXIST, errno.ENOTEMPTY, errno.EBUSY)


@contextlib.contextmanager
def flattened_rootfs(store: Store, record: ImageRecord) -> Iterator[Path]:
    """A temp directory holding the image's root filesystem; removed afterwards.

    The caller may move the tree away (write_rootfs_dir does); what is left is removed.
    """
    from builder.snapshot.apply import apply_layer

    with store.lease():
        work = store.temp_dir("rootfs")
        try:
            tree = work / "rootfs"
            tree.mkdir(mode=0o755)
            manifest = store.manifest(record)
            config = store.config(record)
            if len(manifest.layers) != len(config.diff_ids):
                raise ImageError(
                    f"image {record.manifest_digest}: {len(manifest.layers)} layers but the "
                    f"config lists {len(config.diff_ids)} diff_ids"
                )
            mtimes = _dir_mtimes(tree)
            for layer, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
                compression = mediatypes.layer_compression(layer.media_type) or "auto"
                start = time.time_ns()
                with store.open_blob(layer.digest) as blob:
                    apply_layer(
                        blob, tree, compression=compression, overlay=False, expected_diff_id=diff_id
                    )
                mtimes = _keep_directory_mtimes(tree, mtimes, start, time.time_ns())
            yield tree
        finally:
            remove_tree(work)


def _dir_mtimes(tree: Path) -> dict[str, int]:
    """mtime (ns) of every directory of the tree, by relative path ("" is the root)."""
    found: dict[str, int] = {"": os.lstat(tree).st_mtime_ns}
    pending = [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(tree, rel)) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    child = f"{rel}/{entry.name}" if rel else entry.name
                    found[child] = entry.stat(follow_symlinks=False).st_mtime_ns
                    pending.append(child)
    return found


def _keep_directory_mtimes(
    tree: Path, before: dict[str, int], start_ns: int, end_ns: int
) -> dict[str, int]:
    """Undo the mtime changes a layer made as a side effect; return the directories' mtimes.

    A layer that adds `bin/x` without a `bin/` entry (or whites out inside it)
    leaves `bin` with the time of the apply, which would make the export
    depend on the clock. A directory whose mtime falls in the apply's time
    window was not given that mtime by the layer (layer times are from
    before): it gets back its mtime from below, or 0 for a directory the
    layer made implicitly. The window is widened by the kernel's coarse
    file clock.
    """
    slack = 50_000_000
    after = _dir_mtimes(tree)
    for rel, mtime in after.items():
        if start_ns - slack <= mtime <= end_ns + slack:
            restored = before.get(rel, 0)
            os.utime(os.path.join(tree, rel), ns=(restored, restored), follow_symlinks=False)
            after[rel] = restored
    return after


def remove_tree(path: Path) -> None:
    """Remove a temp tree, at any depth, read-only directories included.

    What cannot be removed stays under the store's tmp/, where prune finds it.
    """
    from builder.snapshot.trees import remove_tree as remove_any_tree

    remove_any_tree(path, ignore_errors=True)


def write_rootfs_tar(tree: Path, out: BinaryIO) -> None:
    """Write the tree as one deterministic, uncompressed tar to `out` (left open)."""
    from builder.snapshot.layer import write_layer

    write_layer(tree, out, compression="none")


def write_rootfs_dir(tree: Path, dest: Path) -> None:
    """Put the tree's contents into the directory `dest` (made if missing); see the module doc."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        st = None
    except OSError as err:
        raise ImageError(f"cannot use {dest} as the destination: {err.strerror}") from None
    if st is None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tree, dest)
            return
        except OSError as err:
            if err.errno not in _RENAME_FALLBACK:
                raise ImageError(f"cannot create {dest}: {err.strerror or err}") from None
        try:
            dest.mkdir(exist_ok=True)
        except OSError as err:
            raise ImageError(f"cannot create {dest}: {err.strerror or err}") from None
    elif not dest.is_dir():
        raise UsageError(f"destination directory {dest} is a file")
    _stream_tree(tree, dest)


def _stream_tree(tree: Path, dest: Path) -> None:
    """tree -> deterministic tar -> pipe -> apply_layer into dest (never through a symlink)."""
    from builder.snapshot.apply import apply_layer

    read_fd, write_fd = os.pipe()
    producer_errors: list[BaseException] = []

    def produce() -> None:
        try:
            with open(write_fd, "wb") as sink:
                write_rootfs_tar(tree, sink)
        except BaseException as err:  # reported by the consumer below
            producer_errors.append(err)

    thread = threading.Thread(target=produce, name="rootfs-tar", daemon=True)
    thread.start()
    consumer_error: BaseException | None = None
    try:
        with open(read_fd, "rb") as source:
            apply_layer(source, dest, compression="none", overlay=False)
    except BaseException as err:
        consumer_error = err
    finally:
        thread.join()
    real = [e for e in producer_errors if not isinstance(e, BrokenPipeError)]
    if real:
        raise real[0]
    if isinstance(consumer_error, LayerError):
        raise ImageError(
            f"cannot write the image's files into {dest}: {consumer_error.message}",
            hint="export into a new or empty directory",
        ) from None
    if isinstance(consumer_error, OSError):
        raise ImageError(
            f"cannot write into {dest}: {consumer_error.strerror or consumer_error}"
        ) from None
    if consumer_error is not None:
        raise consumer_error
