"""The attestations of a finished build: its SBOMs and provenance, attached to its image.

`attest_build` runs after the solve and before the exports: it reads the
package databases of the final image (and of the stages that ask for it
with `BUILDKIT_SBOM_SCAN_STAGE`), gathers the provenance facts from the
plan and the solve, and stores the attestation manifest with the image
(`builder.attest.generate.attach`).

`BUILDKIT_SBOM_SCAN_STAGE` works as in BuildKit: declared as a meta ARG
(before the first FROM) or as an ARG in a stage, `true` scans every
stage that sees it, a comma-separated list of stage names the stages
named; `--build-arg` overrides a declared value. Only stages that were
built are scanned; the final image is always scanned when an SBOM is asked.
`BUILDKIT_SBOM_SCAN_CONTEXT`, declared the same way, adds an SBOM of the
build context (its `.dockerignore` applied) when a built stage enables it.
"""

from __future__ import annotations

import platform as host
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from builder.attest.generate import (
    attach,
    image_subject,
    provenance_attestation,
    rfc3339,
    sbom_attestation,
)
from builder.attest.manifest import Attestation
from builder.attest.options import AttestOptions
from builder.attest.provenance import BuildFacts, Material, StepRecord, image_material
from builder.attest.rootfs import from_directory, from_layers
from builder.attest.subject import ImageSubject
from builder.dockerfile.commands import AddCommand, ArgCommand, CopyCommand, RunCommand
from builder.plan.model import BuildPlan, PlannedStage
from builder.solve.copy.kinds import is_remote_source, redact

if TYPE_CHECKING:
    from builder.solve.request import SolveRequest, SolveResult
    from builder.store import ImageRecord, Store

SCAN_STAGE = "BUILDKIT_SBOM_SCAN_STAGE"
SCAN_CONTEXT = "BUILDKIT_SBOM_SCAN_CONTEXT"


def attest_build(
    store: Store,
    request: SolveRequest,
    solved: SolveResult,
    options: AttestOptions,
    *,
    started: float,
    finished: float,
) -> ImageRecord:
    """Attach the attestations `options` ask for to the built image; return its record."""
    subject = image_subject(store, solved.record)
    epoch = request.source_date_epoch
    created = rfc3339(epoch if epoch is not None else finished)
    attestations: list[Attestation] = []
    plan = solved.plan
    if options.sbom:
        layers = solved.stage_layers.get(plan.target, ())
        attestations.append(sbom_attestation(subject, from_layers(store, layers), created=created))
        for stage in plan.stages:
            if stage.index == plan.target or stage.index not in solved.stage_layers:
                continue
            if scans_stage(plan, stage):
                files = from_layers(store, solved.stage_layers[stage.index])
                attestations.append(
                    sbom_attestation(subject, files, created=created, stage=_stage_name(stage))
                )
        built = [s for s in plan.stages if s.index in solved.stage_layers]
        if any(scans_stage(plan, s, SCAN_CONTEXT) for s in built):
            files = from_directory(request.context_dir, _ignored(request))
            attestations.append(sbom_attestation(subject, files, created=created, stage="context"))
    if options.provenance is not None:
        facts = build_facts(request, solved, options, subject, started=started, finished=finished)
        attestations.append(provenance_attestation(facts))
    if not attestations:
        return solved.record
    return attach(store, solved.record, attestations)


def scans_stage(plan: BuildPlan, stage: PlannedStage, arg: str = SCAN_STAGE) -> bool:
    """Whether `BUILDKIT_SBOM_SCAN_STAGE` (or `arg`) is enabled for this stage."""
    value = plan.global_args.get(arg)
    for step in stage.steps:
        cmd = step.command
        if isinstance(cmd, ArgCommand):
            for name, default in cmd.args:
                if name == arg:
                    value = plan.build_args.get(name, default if default is not None else value)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    names = {n.strip().lower() for n in value.split(",")}
    return _stage_name(stage).lower() in names


def _ignored(request: SolveRequest) -> Callable[[str], bool] | None:
    """The context's `.dockerignore`, as a predicate on relative paths."""
    from builder.context.dockerignore import load_ignore_patterns

    matcher = load_ignore_patterns(request.context_dir, request.dockerfile_path)
    return matcher.matches if len(matcher) else None


def _stage_name(stage: PlannedStage) -> str:
    return stage.name or str(stage.index)


def build_facts(
    request: SolveRequest,
    solved: SolveResult,
    options: AttestOptions,
    subject: ImageSubject,
    *,
    started: float,
    finished: float,
) -> BuildFacts:
    """What the provenance says about this build (started and finished: unix times)."""
    plan = solved.plan
    materials: list[Material] = []
    for name, record in sorted(solved.bases.items()):
        materials.append(image_material(name, record.manifest_digest, plan.platform))
    seen = {m.uri for m in materials}
    for uri, digest in solved.materials:
        algorithm, _, hex_digest = digest.partition(":")
        if uri not in seen:
            seen.add(uri)
            materials.append(Material(uri, {algorithm: hex_digest}))
    for stage in plan.stages:  # cached ADDs were not fetched: their --checksum is their digest
        if not stage.needed:
            continue
        for step in stage.steps:
            cmd = step.command
            if isinstance(cmd, AddCommand) and cmd.checksum:
                for source in cmd.sources:
                    uri = redact(source)
                    if is_remote_source(source) and uri not in seen:
                        seen.add(uri)
                        algorithm, _, hex_digest = cmd.checksum.partition(":")
                        materials.append(Material(uri, {algorithm: hex_digest}))
    build_args = {k: v for k, v in plan.build_args.items() if v is not None}
    return BuildFacts(
        subject=subject,
        mode=options.provenance or "min",
        started=rfc3339(started),
        finished=rfc3339(finished),
        invocation_id=uuid.uuid4().hex,
        build_platform=plan.build_platform or f"linux/{host.machine()}",
        dockerfile_name=request.dockerfile_name.rpartition("/")[2] or "Dockerfile",
        dockerfile=request.dockerfile,
        build_args=build_args,
        labels=dict(request.labels),
        target=request.target,
        platforms=(request.platform,) if request.platform else (),
        materials=materials,
        steps=_steps(plan, solved),
        secrets=tuple(sorted(request.secrets)),
        ssh=tuple(sorted(request.ssh)),
        hermetic=_hermetic(plan, request),
        builder_id=options.builder_id,
        reproducible=options.reproducible,
    )


def _steps(plan: BuildPlan, solved: SolveResult) -> list[StepRecord]:
    """Every step of the stages built, numbered in plan order, with what it builds on."""
    records: list[StepRecord] = []
    last: dict[int, str] = {}  # stage index -> id of its last step
    by_name = {s.name: s.index for s in plan.stages if s.name}
    for stage in plan.stages:
        if stage.index not in solved.stage_layers:
            continue
        parent = last.get(stage.base.stage_index) if stage.base.stage_index is not None else None
        for position, step in enumerate(stage.steps):
            inputs = [parent] if parent else []
            layer, cached = solved.step_results.get((stage.index, position), ("", None))
            cmd = step.command
            from_ = cmd.from_ if isinstance(cmd, CopyCommand) else None
            if from_ is not None:
                index = by_name.get(from_.lower())
                if index is None and from_.isdigit():
                    index = int(from_)
                if index is not None and index in last:
                    inputs.append(last[index])
            step_id = f"step{len(records)}"
            records.append(
                StepRecord(
                    id=step_id,
                    stage=_stage_name(stage),
                    instruction=step.instruction,
                    line=step.line,
                    inputs=tuple(inputs),
                    layer=layer,
                    cached=cached,
                )
            )
            parent = step_id
        if parent:
            last[stage.index] = parent
    return records


def _hermetic(plan: BuildPlan, request: SolveRequest) -> bool:
    """No step could reach the network: no RUN with a network, no remote ADD."""
    for stage in plan.stages:
        if not stage.needed:
            continue
        for step in stage.steps:
            cmd = step.command
            if isinstance(cmd, RunCommand):
                network = request.network if cmd.network == "default" else cmd.network
                if network != "none":
                    return False
            if isinstance(cmd, AddCommand) and any(is_remote_source(s) for s in cmd.sources):
                return False
    return True
