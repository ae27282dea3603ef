"""A resolved target as a `builder.BuildRequest`: what `pybuild build` would be given.

Paths are relative to the working directory, as in buildx: the context is
`cwd/context`, the Dockerfile `context/dockerfile` unless absolute (a
`cwd://` prefix makes it relative to the working directory instead);
`dockerfile-inline` wins over `dockerfile`. The entries of `output`,
`cache-from`, `cache-to`, `secret` and `ssh` become the flags' strings.

A git or HTTP(S) `context` is fetched when the target builds
(`TargetBuild.remote`; its Dockerfile is then relative to it). A
`target:NAME` context stays `NAME=target:NAME` in `build_contexts`:
`builder.bake.run` builds NAME first and puts its image there
(`docker-image://<image ID>`). What pybuild cannot build is refused here,
before anything runs, as a UsageError naming the target: a `call` other
than `build`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.api import BuildRequest, default_dockerfile
from builder.bake.model import Target
from builder.bake.specs import to_flag
from builder.errors import UsageError

LINK = "target:"  #: a context that is another bake target's image


def _remote(path: str) -> bool:
    if path.startswith(("git@", "github.com/")):
        return True
    return "://" in path and not path.startswith("cwd://")


@dataclass
class TargetBuild:
    """What building one target takes: the request, and a remote context to fetch first."""

    request: BuildRequest
    remote: str | None = None  #: a git or HTTP(S) context: `request.context` is a stand-in
    dockerfile: str = "Dockerfile"  #: with `remote`: the Dockerfile's path inside it


def build_request(
    target: Target,
    *,
    cwd: Path,
    environ: Mapping[str, str] | None = None,
    allow: Sequence[str] = (),
) -> TargetBuild:
    """The request that builds `target` (UsageError when pybuild cannot).

    `allow` are the entitlements granted on the command line (`--allow`): a
    target's `entitlements = ["security.insecure"]` (and `network = "host"`,
    which asks for `network.host`) is a request, refused unless granted, as
    buildx asks before it lets a bake file have it.
    """
    name = target.name

    def refuse(message: str, hint: str | None = None) -> UsageError:
        return UsageError(f"target {name!r}: {message}", hint=hint)

    wanted = [e for e in target.entitlements or [] if e in ("security.insecure", "network.host")]
    for entitlement in wanted:
        if entitlement not in allow:
            raise refuse(
                f"requires the entitlement {entitlement}, which was not granted",
                hint=f"pass --allow {entitlement} if you trust this bake file",
            )

    context_text = target.context or "."
    remote = context_text if _remote(context_text) else None
    context = cwd if remote else cwd / context_text.removeprefix("cwd://")
    if not context.is_dir():
        raise refuse(f"build context {context_text!r} is not a directory")
    if target.call not in (None, "build"):
        raise refuse(f"call {target.call!r} is not supported: pybuild bake only builds")
    contexts = []
    for key, value in (target.contexts or {}).items():
        if value is None:
            continue
        if value.startswith(LINK):  # the image of another target: `run` fills it in
            contexts.append(f"{key}={value}")
            continue
        if not _remote(value) and not value.startswith("docker-image://"):
            value = str(cwd / value.removeprefix("cwd://"))
        contexts.append(f"{key}={value}")
    dockerfile: Path | bytes
    if target.dockerfile_inline is not None:
        dockerfile, shown = target.dockerfile_inline.encode(), "Dockerfile"
    else:
        text = target.dockerfile or "Dockerfile"
        if text.startswith("cwd://"):
            dockerfile, shown = cwd / text.removeprefix("cwd://"), text.removeprefix("cwd://")
        elif os.path.isabs(text):
            dockerfile, shown = Path(text), text
        elif remote:
            dockerfile, shown = context / text, text  # replaced once the context is fetched
        else:
            # the default name: CONTEXT/Dockerfile, else a Containerfile, as pybuild build
            dockerfile = default_dockerfile(context) if text == "Dockerfile" else context / text
            base = context_text.removeprefix("cwd://")
            shown = os.path.normpath(
                os.path.join(base, text if text != "Dockerfile" else dockerfile.name)
            )
        if not remote and not dockerfile.is_file():
            raise refuse(f"cannot read Dockerfile {shown!r}: no such file")
    hosts = [
        f"{host}:{ip}"
        for host, ips in sorted((target.extra_hosts or {}).items())
        if ips is not None
        for ip in ips.split(",")
    ]
    request = BuildRequest(
        context=context,
        dockerfile=dockerfile,
        dockerfile_name=shown,
        tags=list(target.tags or []),
        build_args={k: v for k, v in (target.args or {}).items() if v is not None},
        target=target.target,
        platforms=list(target.platforms or []),
        labels={k: v for k, v in (target.labels or {}).items() if v is not None},
        outputs=[to_flag("output", o) for o in target.output or []],
        cache_from=[to_flag("cache", c) for c in target.cache_from or []],
        cache_to=[to_flag("cache", c) for c in target.cache_to or []],
        secrets=[to_flag("secret", s) for s in target.secret or []],
        ssh=[to_flag("ssh", s) for s in target.ssh or []],
        attest=[to_flag("attest", a) for a in target.attest or []],
        network=target.network or "default",
        allow=wanted,
        annotations=list(target.annotations or []),
        add_hosts=hosts,
        build_contexts=contexts,
        ulimits=list(target.ulimits or []),
        shm_size=target.shm_size,
        no_cache=bool(target.no_cache),
        no_cache_filter=list(target.no_cache_filter or []),
        pull=bool(target.pull),
        environ=dict(environ) if environ is not None else None,
    )
    inside = target.dockerfile or "Dockerfile"
    if inside.startswith("cwd://"):  # a local Dockerfile for the remote context
        inside = str(cwd / inside.removeprefix("cwd://"))
    return TargetBuild(request, remote, inside)
