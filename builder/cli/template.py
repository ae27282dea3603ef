"""`--format` and `inspect -f` templates: Go's text/template, as Docker's CLI runs them.

The engine is `builder.cli.gotemplate`; this module shapes pybuild's data as
Docker's typed structs look to a template (a nil slice prints `[]`, a nil map
`map[]`) and keeps the entry points the commands call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from builder.cli.gotemplate import (
    NIL_MAP,
    NIL_POINTER,
    NIL_SLICE,
    GoStruct,
    GoTime,
    render,
    render_rows,
)

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


#: Maps whose values are Go's empty struct (`nat.PortSet`, `map[string]struct{}`).
_SET_FIELDS = ("ExposedPorts", "Volumes")


def _typed_config(config: Any) -> Any:
    """A config as Docker's `container.Config` struct: every field, in its order."""
    from builder.image.views import CONFIG_FIELDS

    if not isinstance(config, dict):
        return NIL_POINTER if config is None else config
    out = GoStruct(omit_empty=frozenset(n for n, _, omit in CONFIG_FIELDS if omit))
    for name, zero, _ in CONFIG_FIELDS:
        out[name] = config.get(name, zero)
    for name, value in config.items():  # fields Docker's struct does not know
        out.setdefault(name, value)
    for name, nil in _NIL_KINDS.items():
        if out.get(name) is None:
            out[name] = nil
        elif isinstance(out[name], dict):
            items = sorted(out[name].items())  # Go maps print and encode sorted
            if name in _SET_FIELDS:
                items = [(k, GoStruct()) for k, _ in items]
            out[name] = dict(items)
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
    if isinstance(graph, dict):  # types.GraphDriverData{Data map[string]string; Name string}
        driver = graph.get("Data")
        data["GraphDriver"] = GoStruct(
            {
                "Data": NIL_MAP if driver is None else dict(sorted(driver.items())),
                "Name": graph.get("Name", ""),
            }
        )
    root_fs = data.get("RootFS")
    if isinstance(root_fs, dict):  # types.RootFS{Type; Layers []string; BaseLayer string}
        layers = root_fs.get("Layers")
        data["RootFS"] = GoStruct(
            {
                "Type": root_fs.get("Type", ""),
                "Layers": NIL_SLICE if layers is None else layers,
                "BaseLayer": root_fs.get("BaseLayer", ""),
            },
            omit_empty=frozenset({"Layers", "BaseLayer"}),
        )
    metadata = data.get("Metadata")
    if isinstance(metadata, dict):  # types.ImageMetadata{LastTagTime time.Time}
        when = metadata.get("LastTagTime") or "0001-01-01T00:00:00Z"
        data["Metadata"] = GoStruct({"LastTagTime": GoTime(when)})
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
