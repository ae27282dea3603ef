"""What the solver is asked to build, and what it gives back.

`builder.build()` (the public API) turns a user's request into a
`SolveRequest`; the executor runs it against one store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from builder.runtime.sandbox import SandboxOptions

if TYPE_CHECKING:
    from builder.context.walk import ContextEntry
    from builder.image.model import Descriptor, ImageConfig
    from builder.plan.model import BuildPlan
    from builder.plan.named_contexts import NamedContext
    from builder.solve.annotations import Annotation
    from builder.solve.cache.types import RemoteCache, UsedStep
    from builder.solve.mounts.secrets import SecretSource
    from builder.store import ImageRecord


@dataclass
class SolveRequest:
    """What `pybuild build` was asked to do."""

    dockerfile: bytes
    context_dir: Path
    dockerfile_name: str = "Dockerfile"  #: shown in messages (`Dockerfile:3`)
    dockerfile_path: Path | None = None  #: for `<name>.dockerignore` next to it
    tags: list[str] = field(default_factory=list)
    target: str | None = None
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    platform: str | None = None
    network: str = "default"  #: default network of RUN steps: default (their own), none, host
    runtime: str = "runc"
    allow_insecure: bool = False  #: `--allow security.insecure`
    allow_host_network: bool = False  #: `--allow network.host`
    secrets: dict[str, SecretSource] = field(default_factory=dict)
    ssh: dict[str, list[Path]] = field(default_factory=dict)  #: id -> agent sockets / keys
    source_date_epoch: int | None = None
    environ: dict[str, str] | None = None  #: for bare `--build-arg NAME` (default: os.environ)
    no_cache: bool = False  #: run every step (results are still stored)
    no_cache_filter: list[str] = field(default_factory=list)  #: stages that run without cache
    pull: bool = False  #: pull base images again even when the store has them
    explain_cache: bool = False  #: report why each step missed the cache
    jobs: int = 0  #: stages run at once (0: `default_jobs()`)
    #: extra places to find step results (`--cache-from`): see `RemoteCache`
    cache_from: list[RemoteCache] = field(default_factory=list)
    inline_cache: bool = False  #: `--cache-to type=inline`: records go into the image config
    annotations: list[Annotation] = field(default_factory=list)  #: `--annotation`: the manifest's
    #: `--add-host`, `--ulimit`, `--shm-size`, `--cgroup-parent`: every RUN container gets them
    sandbox: SandboxOptions = field(default_factory=SandboxOptions)
    #: `--build-context`s by short name; remote ones already fetched into a directory
    contexts: dict[str, NamedContext] = field(default_factory=dict)
    #: set from outside (Ctrl-C, a caller giving up) to stop the build: running steps are killed
    cancel: threading.Event | None = None
    #: keys of the steps run by the builds of one session (a bake), shared by them: under
    #: --no-cache a step one of them ran is still reused by the others, as BuildKit runs a
    #: vertex that concurrent builds share once
    session_keys: set[str] | None = None
    #: one platform of a multi-platform build: steps say it (`[linux/arm64 2/4]`), vertices
    #: are numbered from `first_vertex`, and the image gets no name (its index does)
    platform_label: bool = False
    first_vertex: int = 1


@dataclass
class BuildInputs:
    """What a build's image was made from, as the build saw it (for the CLI's fast path).

    `context` is the context walk every COPY/ADD selected from, `lstat`s taken
    before any file was read (None when no step read the context); `bases`
    maps each image name a FROM or `--from` used to the manifest digest it
    resolved to; `keyed` is False when a step could not be keyed beforehand
    (a download), so the same inputs may not give the same image.
    """

    dockerfile: bytes
    context: list[ContextEntry] | None
    bases: dict[str, str]
    keyed: bool


@dataclass
class SolveResult:
    record: ImageRecord
    config: ImageConfig
    plan: BuildPlan
    used: list[UsedStep] = field(default_factory=list)  #: every keyed step, for `--cache-to`
    inputs: BuildInputs | None = None
    #: the layers of every stage built, by stage index (for SBOMs of stages)
    stage_layers: dict[int, tuple[Descriptor, ...]] = field(default_factory=dict)
    #: the base images used, by the name the Dockerfile gave (for provenance materials)
    bases: dict[str, ImageRecord] = field(default_factory=dict)
    #: remote sources ADD fetched: (URI, digest)
    materials: list[tuple[str, str]] = field(default_factory=list)
    #: (stage index, step position) -> (digest of the layer it made or "", from the cache)
    step_results: dict[tuple[int, int], tuple[str, bool]] = field(default_factory=dict)
