"""SLSA provenance v0.2 predicates, laid out as BuildKit writes them.

The fields are BuildKit's (docs/attestations/slsa-definitions.md): builder
id, build type, invocation (config source, frontend parameters, build
platform), materials (base images as `pkg:docker` purls with their
manifest digest, every ADD URL and git source with its digest), metadata
(times, completeness, reproducible). `mode=max` adds the build arguments'
values, the secret and ssh ids, the build steps (`buildConfig.steps`:
pybuild's steps, not LLB) and the Dockerfile itself (base64, in BuildKit's
`#metadata` extension, `source.infos`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

from builder.attest.subject import ImageSubject

#: pybuild's build type: the predicate's layout is BuildKit's, the steps are pybuild's
BUILD_TYPE = "urn:pybuild:build-type:dockerfile@v1"
BUILDKIT_METADATA = "https://mobyproject.org/buildkit@v1#metadata"
BUILDKIT_HERMETIC = "https://mobyproject.org/buildkit@v1#hermetic"

Mode = Literal["min", "max"]


@dataclass(frozen=True)
class Material:
    """Something the build fetched: a base image, a URL, a git commit."""

    uri: str
    digest: dict[str, str]  #: algorithm -> hex (`sha256`, `sha1` for git commits)


@dataclass(frozen=True)
class StepRecord:
    """One step of the build, for `buildConfig.steps` (mode=max)."""

    id: str  #: `step0`, `step1`...
    stage: str  #: the stage's name or index
    instruction: str  #: as written in the Dockerfile
    line: int
    inputs: tuple[str, ...] = ()  #: ids of the steps it builds on (parent, `--from` stage)
    layer: str = ""  #: digest of the layer it made, if any
    cached: bool | None = None  #: whether it came from the cache (None: not a step that runs)


@dataclass
class BuildFacts:
    """What the provenance of one build says, gathered by the caller from the build."""

    subject: ImageSubject
    mode: Mode
    started: str  #: RFC 3339 UTC
    finished: str
    invocation_id: str
    build_platform: str  #: where it ran (`invocation.environment.platform`)
    dockerfile_name: str  #: `invocation.configSource.entryPoint`
    dockerfile: bytes = b""
    build_args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    platforms: tuple[str, ...] = ()  #: requested target platforms
    materials: list[Material] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    secrets: tuple[str, ...] = ()  #: secret ids (never values)
    ssh: tuple[str, ...] = ()
    hermetic: bool = False  #: no step could reach the network
    builder_id: str = ""
    reproducible: bool = False


def provenance_predicate(facts: BuildFacts) -> dict[str, Any]:
    """The `https://slsa.dev/provenance/v0.2` predicate of one image."""
    full = facts.mode == "max"
    args: dict[str, str] = {}
    if full:
        args.update({f"build-arg:{k}": v for k, v in sorted(facts.build_args.items())})
        args.update({f"label:{k}": v for k, v in sorted(facts.labels.items())})
    if facts.target:
        args["target"] = facts.target
    if facts.platforms:
        args["platform"] = ",".join(facts.platforms)
    parameters: dict[str, Any] = {
        "frontend": "dockerfile.v0",
        "args": args,
        "locals": [{"name": "context"}, {"name": "dockerfile"}],
    }
    if full:
        parameters["secrets"] = [{"id": s, "optional": False} for s in facts.secrets]
        parameters["ssh"] = [{"id": s, "optional": False} for s in facts.ssh]
    metadata: dict[str, Any] = {
        "buildInvocationID": facts.invocation_id,
        "buildStartedOn": facts.started,
        "buildFinishedOn": facts.finished,
        "completeness": {"parameters": full, "environment": True, "materials": False},
        "reproducible": facts.reproducible,
        BUILDKIT_HERMETIC: facts.hermetic,
    }
    predicate: dict[str, Any] = {
        "builder": {"id": facts.builder_id},
        "buildType": BUILD_TYPE,
        "invocation": {
            "configSource": {"entryPoint": facts.dockerfile_name},
            "parameters": parameters,
            "environment": {"platform": facts.build_platform},
        },
        "metadata": metadata,
        "materials": [{"uri": m.uri, "digest": dict(m.digest)} for m in facts.materials],
    }
    if full:
        predicate["buildConfig"] = {"steps": [_step(s) for s in facts.steps]}
        metadata[BUILDKIT_METADATA] = {
            "source": {
                "infos": [
                    {
                        "filename": facts.dockerfile_name,
                        "language": "Dockerfile",
                        "data": base64.b64encode(facts.dockerfile).decode(),
                    }
                ],
                "locations": {
                    s.id: {
                        "locations": [
                            {"ranges": [{"start": {"line": s.line}, "end": {"line": s.line}}]}
                        ]
                    }
                    for s in facts.steps
                    if s.line
                },
            },
        }
    return predicate


def _step(step: StepRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": step.id,
        "stage": step.stage,
        "instruction": step.instruction,
        "inputs": list(step.inputs),
    }
    if step.layer:
        out["layer"] = step.layer
    if step.cached is not None:
        out["cached"] = step.cached
    return out


def image_material(name: str, manifest_digest: str, platform: str) -> Material:
    """A base image as BuildKit lists it: `pkg:docker/debian@bookworm?platform=linux%2Famd64`."""
    from packageurl import PackageURL

    repo, tag = name, "latest"
    if "@" in repo:
        repo, _, tag = repo.partition("@")
    elif ":" in repo.rpartition("/")[2]:
        repo, _, tag = repo.rpartition(":")
    for prefix in ("docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    namespace, _, short = repo.rpartition("/")
    uri = PackageURL(
        type="docker", namespace=namespace or None, name=short, version=tag,
        qualifiers={"platform": platform} if platform else None,
    ).to_string()  # fmt: skip
    algorithm, _, hex_digest = manifest_digest.partition(":")
    return Material(str(uri), {algorithm: hex_digest})
