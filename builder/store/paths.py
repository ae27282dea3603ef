"""Where things live in a store root, and where the default root is.

```
<root>/blobs/sha256/<hex>        content-addressed blobs (manifests, configs, layers)
<root>/tmp/                      temp files and dirs of writers and steps (tmp-<kind>-<owner>-*)
<root>/index.json                image records and names (rewritten atomically)
<root>/snapshots/<chain-hex>/fs  one unpacked layer each, in overlayfs form
<root>/snapshots/tmp-*           unpacks in progress or deletions interrupted
<root>/locks/                    lock files (index, gc, one per snapshot)
<root>/cache/                    build caches of other components (counted by disk usage)
<root>/run/<runtime>/            the OCI runtime's state (`runc --root`), container ids with owner
```

Every directory is 0700 (see `recovery.py`); `<owner>` is `<pid>-<start time>`
(`owners.py`), so leftovers of a killed process can be found and removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from builder.image.digest import digest_hex, parse_digest
from builder.store.owners import owned_name

TEMP_PREFIX = "tmp-"


def default_root() -> Path:
    """$PYBUILD_ROOT, else /var/lib/pybuild for root, else $XDG_DATA_HOME/pybuild."""
    env = os.environ.get("PYBUILD_ROOT")
    if env:
        return Path(env).absolute()
    if os.geteuid() == 0:
        return Path("/var/lib/pybuild")
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).absolute() / "pybuild"


def temp_name(kind: str) -> str:
    """A unique name for a temp file or dir: `tmp-<kind>-<pid>-<start>-<random>`."""
    return owned_name(f"{TEMP_PREFIX}{kind}")


@dataclass(frozen=True)
class StoreLayout:
    root: Path

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def index(self) -> Path:
        return self.root / "index.json"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def run(self) -> Path:
        """`<root>/run`: state roots of OCI runtimes, one per runtime name."""
        return self.root / "run"

    @property
    def recovery_lock(self) -> Path:
        return self.locks / "recovery.lock"

    @property
    def index_lock(self) -> Path:
        return self.locks / "index.lock"

    @property
    def gc_lock(self) -> Path:
        return self.locks / "gc.lock"

    def blob(self, digest: str) -> Path:
        """The path of a blob; the digest is validated first (it may come from outside)."""
        algorithm = parse_digest(digest).split(":", 1)[0]
        return self.blobs / algorithm / digest_hex(digest)

    def snapshot(self, chain_id: str) -> Path:
        """The snapshot dir of a chain ID (its `fs` subdir is the overlay lower dir)."""
        return self.snapshots / digest_hex(chain_id)

    def snapshot_lock(self, chain_id: str) -> Path:
        return self.locks / f"snapshot-{digest_hex(chain_id)}.lock"

    def directories(self) -> tuple[Path, ...]:
        return (
            self.root,
            self.blobs / "sha256",
            self.tmp,
            self.snapshots,
            self.locks,
            self.cache,
            self.run,
        )
