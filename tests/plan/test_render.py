"""Details of the text and JSON renderings that the fixture snapshots do not show."""

from __future__ import annotations

import json

from builder.dockerfile.parser import parse
from builder.plan.graph import plan
from builder.plan.render import plan_to_dict, render_json, render_text

FIXED = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}}


def test_text_quotes_values_with_spaces_or_empty() -> None:
    text = render_text(
        plan(
            parse('FROM alpine\nENV GREETING="hello world" EMPTY=""\nARG NOTE\nRUN true\n'),
            build_args={"NOTE": "a $b"},
            **FIXED,
        )
    )
    assert '     ENV GREETING="hello world" EMPTY=""\n' in text
    assert '     ARG NOTE="a $b"\n' in text
    assert '       sees: ENV GREETING="hello world", ENV EMPTY="", ARG NOTE="a $b"\n' in text


def test_text_lists_images_and_stage_bases() -> None:
    text = render_text(
        plan(
            parse("FROM alpine AS a\nFROM a AS b\nCOPY --from=busybox:1.36 /bin/sh /bin/sh\n"),
            **FIXED,
        )
    )
    assert 'stage 1 "b" FROM a (stage 0)\n  depends on: a\n  images: busybox:1.36\n' in text
    assert text.endswith("parallel waves: [a] -> [b]\n")


def test_json_adds_display_names_and_pruned_indices() -> None:
    result = plan(parse("FROM alpine\nFROM alpine AS app\n"), target="app", **FIXED)
    data = json.loads(render_json(result))
    assert [s["display_name"] for s in data["stages"]] == ["stage-0", "app"]
    assert data["target"] == 1 and data["target_name"] == "app"
    assert data["pruned"] == [0]
    assert data == plan_to_dict(result)
    assert render_json(result).endswith("}\n")
