"""Show a build plan: readable text, or JSON for tools."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from builder.plan.args import Variable
from builder.plan.model import BuildPlan, PlannedStage, Step

#: Step kinds whose words were expanded: shown with their expanded arguments.
_EXPANDED_KINDS = frozenset({"user", "stopsignal", "volume", "expose"})
_NEEDS_QUOTES = re.compile(r"[\s\"'\\$]")


def render_text(plan: BuildPlan) -> str:
    """One block per stage, numbered steps named like BuildKit's progress, then the
    pruned stages, the parallel waves and the warnings."""
    target = plan.target_stage
    lines = [f"plan for {plan.path}: target {_label(target)}, platform {plan.platform}"]
    if plan.build_args:
        lines.append("build args: " + " ".join(_kv(k, v) for k, v in plan.build_args.items()))
    for stage in plan.stages:
        lines.append("")
        lines += _stage_block(plan, stage)
    lines.append("")
    if plan.pruned:
        lines.append("pruned by --target: " + ", ".join(s.display_name for s in plan.pruned))
    waves = " -> ".join(
        "[" + ", ".join(plan.stages[i].display_name for i in wave) + "]" for wave in plan.waves
    )
    lines.append(f"parallel waves: {waves}")
    lines += [f"[Warning] {w}" for w in plan.warnings]
    return "\n".join(lines) + "\n"


def _label(stage: PlannedStage) -> str:
    return f'"{stage.name}" (stage {stage.index})' if stage.name else f"stage {stage.index}"


def _stage_block(plan: BuildPlan, stage: PlannedStage) -> list[str]:
    name = f' "{stage.name}"' if stage.name else ""
    platform = f" --platform={stage.platform}" if stage.platform else ""
    if stage.base.kind == "stage":
        origin = f"(stage {stage.base.stage_index})"
    else:
        origin = f"({stage.base.kind})"
    lines = [f"stage {stage.index}{name} FROM{platform} {stage.base.name} {origin}"]
    if not stage.needed:
        return [*lines, "  pruned by --target"]
    deps = [plan.stages[i].display_name for i in stage.depends_on]
    if deps:
        lines.append("  depends on: " + ", ".join(deps))
    if stage.images:
        lines.append("  images: " + ", ".join(stage.images))
    for step in stage.steps:
        if step.vertex is not None:
            lines.append(f"  #{step.vertex} {step.name}")
        elif step.kind != "from":
            lines.append(f"     {'ONBUILD ' if step.onbuild else ''}{_metadata_text(step)}")
        if step.variables:
            lines.append("       sees: " + ", ".join(_variable(v) for v in step.variables))
    return lines


def _metadata_text(step: Step) -> str:
    if step.kind in ("arg", "env", "label"):
        words = [_kv(*a.split("=", 1)) if "=" in a else a for a in step.args]
        return " ".join([step.kind.upper(), *words])
    if step.kind in _EXPANDED_KINDS:
        return " ".join([step.kind.upper(), *step.flags, *step.args])
    keyword, _, rest = step.instruction.strip().partition(" ")
    return f"{keyword.upper()} {rest.strip()}".rstrip()


def _variable(v: Variable) -> str:
    return f"{v.source.upper() if v.source != 'proxy' else 'proxy'} {_kv(v.name, v.value)}"


def _kv(key: str, value: str) -> str:
    return f"{key}={json.dumps(value) if not value or _NEEDS_QUOTES.search(value) else value}"


def render_json(plan: BuildPlan) -> str:
    """The plan as JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(plan_to_dict(plan), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def plan_to_dict(plan: BuildPlan) -> dict[str, Any]:
    """Plain data for JSON: the dataclasses plus names a reader needs."""
    data = dataclasses.asdict(plan)
    for stage_data, stage in zip(data["stages"], plan.stages, strict=True):
        stage_data["display_name"] = stage.display_name
        for step_data in stage_data["steps"]:
            step_data.pop("command", None)  # the typed command is for the executor
            if not step_data["onbuild"]:  # only ONBUILD trigger steps carry the key
                del step_data["onbuild"]
    data["target_name"] = plan.target_stage.display_name
    data["pruned"] = [s.index for s in plan.pruned]
    return data
