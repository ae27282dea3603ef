"""The build context: what `docker build DIR` sends to the builder.

- `dockerignore`: `.dockerignore` (and BuildKit's `<Dockerfile>.dockerignore`)
  with moby's matching rules.
- `walk`: the context's entries (never following symlinks), skipping what is
  ignored.
- `statcache`: a persistent per-context cache of content digests, so an
  unchanged file is never read twice.
- `hashing`: content digests of the whole context or of what one COPY/ADD
  selects (the cache key's context part).
"""

from builder.context.dockerignore import (
    DockerignoreError,
    IgnoreMatcher,
    IgnorePattern,
    load_ignore_patterns,
)
from builder.context.hashing import (
    SelectionDigest,
    SourceNotFoundError,
    content_digest,
    selection_digest,
)
from builder.context.statcache import StatCache
from builder.context.walk import ContextEntry, ContextError, walk_context

__all__ = [
    "ContextEntry",
    "ContextError",
    "DockerignoreError",
    "IgnoreMatcher",
    "IgnorePattern",
    "SelectionDigest",
    "SourceNotFoundError",
    "StatCache",
    "content_digest",
    "load_ignore_patterns",
    "selection_digest",
    "walk_context",
]
