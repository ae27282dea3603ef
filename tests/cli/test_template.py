"""The Go-template subset behind `--format`."""

from __future__ import annotations

import pytest

from builder.cli.template import render_template
from builder.errors import UsageError

DATA = {
    "Id": "sha256:abc",
    "RepoTags": ["debian:12", "debian:latest"],
    "Config": {"Env": ["A=1"], "Labels": {"org.x": "y"}, "Cmd": None},
    "Size": 12,
}


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{.Id}}", "sha256:abc"),
        ("{{ .Size }} bytes", "12 bytes"),
        ("{{.RepoTags}}", "[debian:12 debian:latest]"),
        ("{{json .Config.Env}}", '["A=1"]'),
        ('{{index .Config.Labels "org.x"}}', "y"),
        ("{{index .RepoTags 1}}", "debian:latest"),
        ("{{.Config.Cmd}}", "<no value>"),
        ("{{.Config.Labels}}", "map[org.x:y]"),
        ("{{upper .Id}}", "SHA256:ABC"),
        ("{{.Id}}\\t{{.Size}}", "sha256:abc\t12"),
    ],
)
def test_render(template: str, text: str) -> None:
    assert render_template(template, DATA) == text


def test_unknown_field_names_the_fields_that_exist() -> None:
    with pytest.raises(UsageError) as info:
        render_template("{{.Nope}}", DATA)
    assert 'map has no entry for key "Nope"' in info.value.message
    assert "RepoTags" in (info.value.hint or "")


def test_range_is_supported() -> None:
    assert render_template("{{range .RepoTags}}{{.}},{{end}}", DATA) == "debian:12,debian:latest,"


def test_bad_template_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        render_template("{{if .Id}}", DATA)
    assert "unexpected EOF" in info.value.message
