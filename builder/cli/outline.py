"""`pybuild build --call`: buildx's call methods, printed as buildx prints them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.errors import UsageError

if TYPE_CHECKING:  # the planner's modules load only for `--call outline|targets`
    from builder.plan.outline import Outline, OutlineMount, Target

CALLS = ("build", "check", "outline", "targets")


@dataclass(frozen=True)
class Call:
    """A parsed `--call` value: the method (`format=` is buildx's; only text here)."""

    name: str


def parse_call(value: str) -> Call:
    """`--call NAME`; exit 2 with buildx's wording for what it refuses."""
    name = ""
    for part in value.split(","):
        key, eq, val = part.partition("=")
        if eq:
            if key == "format" and val == "text":
                continue
            raise UsageError(f"invalid print field: {part}", hint="pybuild prints text only")
        if name:
            raise UsageError(f"invalid print value: {value}")
        name = part
    if name == "lint":  # buildx's older name for check
        name = "check"
    if name not in CALLS:
        raise UsageError(
            f'invalid value "{value}" for "--call" flag: unknown call method {name!r}',
            hint="use build, check, outline or targets",
        )
    return Call(name)


def tabwrite(rows: list[list[str]], padding: int) -> list[str]:
    """Go's tabwriter with minwidth 0 and ' ' as pad: every cell but the last of a row
    is padded to its column's width plus `padding`."""
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell))
    return [
        "".join(cell.ljust(widths[i] + padding) for i, cell in enumerate(row[:-1])) + row[-1]
        for row in rows
    ]


def render_targets(found: list[Target]) -> str:
    """buildx's `--call targets`: TARGET, DESCRIPTION; the default one marked."""
    rows = [["TARGET", "DESCRIPTION"]]
    for t in found:
        name = t.name
        if t.default:
            name = f"{name} (default)" if name else "(default)"
        rows.append([name, t.description])
    return "\n".join(tabwrite(rows, 1)) + "\n"


def render_outline(o: Outline) -> str:
    """buildx's `--call outline`: the target, then build args, secrets, SSH agents."""
    out: list[str] = []
    if o.name or o.description:
        rows = [["TARGET:", o.name or "(default)"]]
        if o.description:
            rows.append(["DESCRIPTION:", o.description])
        out += [*tabwrite(rows, 1), ""]
    if o.args:
        rows = [["BUILD ARG", "VALUE", "DESCRIPTION"]]
        rows += [[a.name, a.value, a.description] for a in o.args]
        out += [*tabwrite(rows, 3), ""]
    for title, mounts in (("SECRET", o.secrets), ("SSH", o.ssh)):
        if mounts:
            out += [*tabwrite([[title, "REQUIRED"]] + [_mount_row(m) for m in mounts], 3), ""]
    return "".join(line + "\n" for line in out)


def _mount_row(m: OutlineMount) -> list[str]:
    return [m.name, "true" if m.required else ""]


def run_call(
    method: str, data: bytes, shown: str, target: str | None, build_args: dict[str, str | None]
) -> str:
    """The text of `--call outline|targets` for a Dockerfile; nothing is built."""
    from builder.dockerfile.parser import parse
    from builder.plan.graph import plan
    from builder.plan.outline import outline, targets

    dockerfile = parse(data, shown)
    if method == "targets":
        return render_targets(targets(dockerfile))
    build_plan = plan(dockerfile, target=target, build_args=build_args)
    return render_outline(outline(dockerfile, build_plan))
