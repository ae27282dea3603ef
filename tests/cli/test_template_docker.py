"""pybuild's templates against outputs recorded from Docker 20.10 (no Docker needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.cli.template import HISTORY_HEADERS, IMAGE_HEADERS, format_rows, render_inspect

CASES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "docker_template_cases.json").read_text()
)


@pytest.mark.parametrize("case", CASES["inspect_cases"], ids=lambda c: c["template"])
def test_inspect_template_matches_docker(case: dict[str, Any]) -> None:
    assert render_inspect(case["template"], CASES["inspect"]) + "\n" == case["stdout"]


def _same_table(got: str, want: str) -> None:
    """Docker's row order is its sort; compare the header and the set of rows."""
    got_lines, want_lines = got.splitlines(), want.splitlines()
    assert got_lines[0] == want_lines[0]
    assert sorted(got_lines[1:]) == sorted(want_lines[1:])


@pytest.mark.parametrize("case", CASES["images"], ids=lambda c: c["template"])
def test_images_format_matches_docker(case: dict[str, Any]) -> None:
    got = format_rows(case["template"], CASES["images_rows"], IMAGE_HEADERS)
    if case["template"].startswith("table"):
        _same_table(got, case["stdout"])
    else:
        assert sorted(got.splitlines()) == sorted(case["stdout"].splitlines())


@pytest.mark.parametrize("case", CASES["history"], ids=lambda c: c["template"])
def test_history_format_matches_docker(case: dict[str, Any]) -> None:
    assert format_rows(case["template"], CASES["history_rows"], HISTORY_HEADERS) == case["stdout"]


#: Not in the recording: written from Docker 20.10's struct field order
#: (container.Config, types.RootFS{Type, Layers, BaseLayer}, types.GraphDriverData).
DERIVED = {
    "{{.Config}}": "{   false false false map[] false false false [] [] <nil> false  map[]  [] false"
    "  [] map[]  <nil> []}",
    "{{.ContainerConfig}}": "{   false false false map[] false false false [] [] <nil> false"
    "  map[]  [] false  [] map[]  <nil> []}",
    "{{.RootFS}}": "{layers [sha256:c22b1a62c00bde8c49a508c301da657a7ee2d45928220eef8d537ec65bab664d] }",
    "{{.GraphDriver.Name}} {{len .GraphDriver.Data}}": "overlay2 3",
}


@pytest.mark.parametrize("template", sorted(DERIVED))
def test_go_structs_print_in_field_order(template: str) -> None:
    assert render_inspect(template, CASES["inspect"]) == DERIVED[template]


def test_graph_driver_prints_its_data_map_sorted() -> None:
    got = render_inspect("{{.GraphDriver}}", CASES["inspect"])
    data = CASES["inspect"]["GraphDriver"]["Data"]
    assert got == "{map[" + " ".join(f"{k}:{data[k]}" for k in sorted(data)) + "] overlay2}"


def test_a_full_config_struct_and_its_json() -> None:
    doc = {
        **CASES["inspect"],
        "Config": {
            "User": "app",
            "ExposedPorts": {"8080/tcp": {}, "443/tcp": {}},
            "Env": ["A=1", "B=2"],
            "Cmd": ["sh", "-c", "x y"],
            "Volumes": {"/data": {}},
            "WorkingDir": "/w",
            "Labels": {"z": "1", "a": "2"},
            "StopSignal": "SIGTERM",
            "Shell": ["/bin/sh", "-c"],
        },
        "GraphDriver": {"Data": None, "Name": ""},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }
    assert render_inspect("{{.Config}}", doc) == (
        "{  app false false false map[443/tcp:{} 8080/tcp:{}] false false false [A=1 B=2] "
        "[sh -c x y] <nil> false  map[/data:{}] /w [] false  [] map[a:2 z:1] SIGTERM <nil> "
        "[/bin/sh -c]}"
    )
    config = json.loads(render_inspect("{{json .Config}}", doc))
    assert "ArgsEscaped" not in config and "Healthcheck" not in config  # omitempty
    assert config["ExposedPorts"] == {"443/tcp": {}, "8080/tcp": {}}
    assert config["StopSignal"] == "SIGTERM" and config["Shell"] == ["/bin/sh", "-c"]
    assert render_inspect("{{.Config.User}} {{.Config.Healthcheck}}", doc) == "app <nil>"
    assert render_inspect("{{.GraphDriver}}", doc) == "{map[] }"
    assert render_inspect("{{.Metadata}}", doc) == "{0001-01-01 00:00:00 +0000 UTC}"
    assert render_inspect("{{json .Metadata}}", doc) == '{"LastTagTime":"0001-01-01T00:00:00Z"}'
    assert render_inspect("{{if .Metadata}}yes{{end}}", doc) == "yes"
