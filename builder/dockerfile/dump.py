"""Print a parsed Dockerfile: BuildKit's S-expression dump, or JSON.

`dump_buildkit` reproduces BuildKit's `Node.Dump()` byte for byte, so the
parser can be checked against BuildKit's own test files. `to_json` gives the
shape BuildKit's parser exposes to other tools (one object per instruction).
"""

from __future__ import annotations

import json
from typing import Any

from builder.dockerfile.ast import Dockerfile, Instruction
from builder.dockerfile.text import go_quote


def _sexp(inst: Instruction) -> str:
    out = inst.keyword
    if inst.flags:
        out += " [" + " ".join(go_quote(f) for f in inst.flags) + "]"
    if inst.child is not None:
        out += " (" + _sexp(inst.child) + ")"
    elif inst.key_values:
        for kv in inst.key_values:
            out += f" {go_quote(kv.key)} {go_quote(kv.value)} {go_quote(kv.separator)}"
    else:
        for arg in inst.args:
            out += " " + go_quote(arg)
    return out.strip()


def dump_buildkit(dockerfile: Dockerfile) -> str:
    """One `(instruction ...)` line per instruction, as BuildKit's parser tests print."""
    return "".join(f"({_sexp(inst)})\n" for inst in dockerfile.instructions)


def instruction_to_dict(inst: Instruction) -> dict[str, Any]:
    body = inst.child if inst.child is not None else inst
    return {
        "cmd": inst.keyword,
        "sub_cmd": inst.child.keyword if inst.child is not None else None,
        "json": body.json,
        "original": inst.original,
        "flags": list(inst.flags),
        "value": list(body.args),
        "start_line": inst.start_line,
        "end_line": inst.end_line,
        "heredocs": [
            {"name": h.name, "file_descriptor": h.file_descriptor, "content": h.content}
            for h in (inst.heredocs or body.heredocs)
        ],
    }


def to_json(dockerfile: Dockerfile, indent: int | None = 2) -> str:
    """The instructions as a JSON list (see `instruction_to_dict`)."""
    data = [instruction_to_dict(inst) for inst in dockerfile.instructions]
    return json.dumps(data, indent=indent, ensure_ascii=False)
