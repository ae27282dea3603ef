"""`--format` and `inspect -f` templates: Go's text/template, as Docker's CLI runs them.

The engine is `builder.cli.gotemplate`; this module shapes pybuild's data as
Docker's typed structs look to a template (a nil slice prints `[]`, a nil map
`map[]`) and keeps the entry points the commands call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from builder.cli.gotemplate import NIL_MAP, NIL_POINTER, NIL_SLICE, render, render_rows

#: Docker's image-list and history headers for `table` formats.
IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    "Containers": "CONTAINERS",
}  # fmt: skip
HISTORY_HEADERS = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
}  # fmt: skip

_NIL_KINDS = {
    "ExposedPorts": NIL_MAP, "Env": NIL_SLICE, "Cmd": NIL_SLICE, "Healthcheck": NIL_POINTER,
    "Volumes": NIL_MAP, "Entrypoint": NIL_SLICE, "OnBuild": NIL_SLICE, "Labels": NIL_MAP,
    "Shell": NIL_SLICE, "StopTimeout": NIL_POINTER,
}  # fmt: skip


def _typed_config(config: Any) -> Any:
    if not isinstance(config, dict):
        return NIL_POINTER if config is None else config
    out = dict(config)
    for name, nil in _NIL_KINDS.items():
        if out.get(name) is None:
            out[name] = nil
        elif isinstance(out[name], dict):
            out[name] = dict(sorted(out[name].items()))  # Go maps print and encode sorted
    return out


def inspect_template_data(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An inspect document as Docker's ImageInspect struct looks to a template."""
    data = dict(doc)
    for key in ("Config", "ContainerConfig"):
        if key in data:
            data[key] = _typed_config(data[key])
    for key in ("RepoTags", "RepoDigests"):
        if data.get(key) is None:
            data[key] = NIL_SLICE
    graph = data.get("GraphDriver")
    if isinstance(graph, dict) and graph.get("Data") is None:
        data["GraphDriver"] = {**graph, "Data": NIL_MAP}
    return data


def render_template(template: str, data: Any) -> str:
    """One row of a list command's `--format` (`\\t`, `\\n` become tab, newline)."""
    return render(template.replace("\\t", "\t").replace("\\n", "\n"), data)


def render_inspect(template: str, data: Any) -> str:
    """`inspect -f`: the template as typed, over the data as Docker's struct."""
    return render(template, inspect_template_data(data))


def format_rows(template: str, rows: Sequence[Any], headers: Mapping[str, str]) -> str:
    """A list command's whole `--format` output; `table ...` adds headers, aligned as Docker."""
    return render_rows(template, rows, headers)
