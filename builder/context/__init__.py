"""The build context: what `docker build DIR` sends to the builder.

`builder.context.dockerignore` reads `.dockerignore` (and BuildKit's
`<Dockerfile>.dockerignore`) with moby's matching rules; the context walker
uses `IgnoreMatcher.matches` per path and `IgnoreMatcher.may_match_inside`
to skip excluded directories.
"""

from builder.context.dockerignore import (
    DockerignoreError,
    IgnoreMatcher,
    IgnorePattern,
    load_ignore_patterns,
)

__all__ = ["DockerignoreError", "IgnoreMatcher", "IgnorePattern", "load_ignore_patterns"]
