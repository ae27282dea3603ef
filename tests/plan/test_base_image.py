"""Planning with base-image data: the image's environment and its ONBUILD triggers.

Images are given as config JSON bytes, the way a registry or the store hands
them over, and read with `ImageConfig.from_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from builder.dockerfile.commands import CopyCommand, RunCommand
from builder.dockerfile.parser import parse
from builder.errors import ImageNotFoundError, PlanError
from builder.image.model import ImageConfig
from builder.plan.base_image import DEFAULT_PATH, image_env, parse_trigger
from builder.plan.graph import BuildPlan, plan
from builder.plan.model import Step
from builder.plan.render import render_json, render_text

FIXED = {"platform": "linux/amd64", "build_platform": "linux/amd64", "environ": {}}

PYTHON_ENV = [
    "PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C.UTF-8",
    "PYTHON_VERSION=3.12.4",
]


def config(
    env: list[str] | None = None, on_build: list[str] | None = None, os: str = "linux"
) -> ImageConfig:
    body: dict[str, Any] = {
        "architecture": "amd64",
        "os": os,
        "rootfs": {"type": "layers", "diff_ids": []},
    }
    body["config"] = {"Env": env or [], **({"OnBuild": on_build} if on_build is not None else {})}
    return ImageConfig.from_bytes(json.dumps(body).encode())


class Images:
    """A `base_image` lookup over fixed configs that records what it was asked."""

    def __init__(self, configs: dict[str, ImageConfig] | None = None) -> None:
        self.configs = configs or {}
        self.asked: list[str] = []

    def __call__(self, name: str, platform: str = "") -> ImageConfig | None:
        self.asked.append(name)
        return self.configs.get(name)


def make_plan(
    text: str, images: Callable[[str, str], ImageConfig | None] | None = None, **options: Any
) -> BuildPlan:
    return plan(parse(text, path="Dockerfile"), base_image=images, **{**FIXED, **options})


def plan_error(text: str, images: Images, **options: Any) -> PlanError:
    with pytest.raises(PlanError) as info:
        make_plan(text, images, **options)
    return info.value


def steps(result: BuildPlan, stage: int = -1) -> list[Step]:
    return result.stages[stage].steps


def args_of(result: BuildPlan, kind: str, stage: int = -1) -> list[list[str]]:
    return [s.args for s in steps(result, stage) if s.kind == kind]


def python() -> Images:
    return Images({"python:3.12": config(PYTHON_ENV)})


# ---------------------------------------------------------------- environment


def test_image_env_expands_in_env_workdir_copy_user_and_label_words() -> None:
    images = Images({"app": config(["HOME=/home/app", "APP_USER=app", "PYTHON_VERSION=3.12.4"])})
    result = make_plan(
        "FROM app\n"
        "ENV PATH=$PATH:$HOME/.local/bin\n"
        "WORKDIR $HOME/src\n"
        "COPY --chown=$APP_USER req.txt $HOME/src/\n"
        "USER ${APP_USER}\n"
        'LABEL python="$PYTHON_VERSION"\n',
        images,
    )
    assert args_of(result, "env") == [[f"PATH={DEFAULT_PATH}:/home/app/.local/bin"]]
    assert args_of(result, "workdir") == [["/home/app/src"]]
    copy = next(s for s in steps(result) if s.kind == "copy")
    assert copy.args == ["req.txt", "/home/app/src/"] and copy.flags == ["--chown=app"]
    assert args_of(result, "user") == [["app"]]
    assert args_of(result, "label") == [["python=3.12.4"]]
    assert images.asked == ["app"]


def test_run_sees_the_image_env_first_then_the_stage_s() -> None:
    result = make_plan("FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN pip install x\n", python())
    run = next(s for s in steps(result) if s.kind == "run")
    assert [(v.name, v.value, v.source) for v in run.variables] == [
        ("PATH", PYTHON_ENV[0].split("=", 1)[1], "env"),
        ("LANG", "C.UTF-8", "env"),
        ("PYTHON_VERSION", "3.12.4", "env"),
        ("PIP_NO_CACHE_DIR", "1", "env"),
    ]


def test_image_env_entries_without_value_and_without_path() -> None:
    assert image_env(["A=1", "B", "A=2", "=x", "C=a=b"]) == [
        ("A", "2"),
        ("B", ""),
        ("C", "a=b"),
        ("PATH", DEFAULT_PATH),
    ]
    assert image_env(["Path=C:\\Windows"], os="windows") == [("Path", "C:\\Windows")]
    assert image_env([], os="windows") == []


def test_scratch_starts_with_the_default_path_only_with_image_data() -> None:
    text = "FROM scratch\nENV PATH=$PATH:/opt/bin\n"
    assert args_of(make_plan(text, Images()), "env") == [[f"PATH={DEFAULT_PATH}:/opt/bin"]]
    assert args_of(make_plan(text), "env") == [["PATH=:/opt/bin"]]  # unchanged without data


def test_windows_image_gets_no_default_path() -> None:
    images = Images({"nanoserver": config([], os="windows")})
    result = make_plan("FROM nanoserver\nENV X=${PATH:-unset}\n", images)
    assert args_of(result, "env") == [["X=unset"]]


def test_unknown_image_is_planned_as_without_data() -> None:
    text = "FROM mystery\nENV X=${HOME:-none}\nRUN true\n"
    images = Images()
    assert render_text(make_plan(text, images)) == render_text(make_plan(text))
    assert images.asked == ["mystery"]


def test_stage_from_a_stage_keeps_the_image_env_it_inherits() -> None:
    images = Images({"base": config(["HOME=/root", "TOOL=1"])})
    result = make_plan("FROM base AS one\nENV TOOL=2\nFROM one\nWORKDIR $HOME/$TOOL\n", images)
    assert args_of(result, "workdir") == [["/root/2"]]
    assert images.asked == ["base"]


@pytest.mark.parametrize(
    ("text", "build_args", "expected"),
    [
        # a bare ARG with no value anywhere leaves the image's variable alone
        ("FROM python:3.12\nARG PYTHON_VERSION\nENV V=$PYTHON_VERSION\n", {}, "3.12.4"),
        # a default replaces it from that point on (BuildKit adds the ARG to the env)
        ("FROM python:3.12\nARG PYTHON_VERSION=3.11\nENV V=$PYTHON_VERSION\n", {}, "3.11"),
        # so does a --build-arg, for a bare ARG or one with a default
        (
            "FROM python:3.12\nARG PYTHON_VERSION\nENV V=$PYTHON_VERSION\n",
            {"PYTHON_VERSION": "3.10"},
            "3.10",
        ),
        (
            "FROM python:3.12\nARG PYTHON_VERSION=3.11\nENV V=$PYTHON_VERSION\n",
            {"PYTHON_VERSION": "3.10"},
            "3.10",
        ),
        # and the global value of a bare ARG that re-declares a meta ARG
        (
            "ARG PYTHON_VERSION=3.9\nFROM python:3.12\nARG PYTHON_VERSION\nENV V=$PYTHON_VERSION\n",
            {},
            "3.9",
        ),
        # before the ARG, words see the image's value
        ("FROM python:3.12\nENV V=$PYTHON_VERSION\nARG PYTHON_VERSION=3.11\n", {}, "3.12.4"),
        # an ARG default can use the image's variables
        ("FROM python:3.12\nARG MINOR=${PYTHON_VERSION%.*}\nENV V=$MINOR\n", {}, "3.12"),
    ],
)
def test_arg_against_image_env_like_buildkit(
    text: str, build_args: dict[str, str], expected: str
) -> None:
    result = make_plan(text, python(), build_args=build_args)
    assert args_of(result, "env") == [[f"V={expected}"]]


# ---------------------------------------------------------------- ONBUILD triggers

ONBUILD_APP = config(
    ["HOME=/root"],
    [
        "ARG APP_DIR=/srv/app",
        "WORKDIR $APP_DIR",
        "COPY . $APP_DIR",
        "ENV FROM_TRIGGER=$HOME",
        "RUN make -C $APP_DIR",
    ],
)


def test_triggers_run_first_with_their_kinds_args_and_the_from_line() -> None:
    result = make_plan(
        "# app\nFROM onbuild-app AS app\nRUN test -f Makefile\n",
        Images({"onbuild-app": ONBUILD_APP}),
    )
    got = [(s.kind, s.args, s.line, s.onbuild) for s in steps(result)]
    assert got == [
        ("from", ["onbuild-app"], 2, False),
        ("arg", ["APP_DIR=/srv/app"], 2, True),
        ("workdir", ["/srv/app"], 2, True),
        ("copy", [".", "/srv/app"], 2, True),
        ("env", ["FROM_TRIGGER=/root"], 2, True),
        ("run", ["make -C $APP_DIR"], 2, True),
        ("run", ["test -f Makefile"], 3, False),
    ]
    commands = [s.command for s in steps(result)[1:]]
    assert isinstance(commands[2], CopyCommand) and commands[2].dest == "/srv/app"  # expanded
    assert isinstance(commands[4], RunCommand) and commands[4].prepend_shell
    assert steps(result)[3].instruction == "COPY . $APP_DIR"


def test_triggers_count_in_the_progress_numbering_like_buildkit() -> None:
    # BuildKit names FROM before it reads the triggers ([1/2]), then adds one per
    # trigger to the total, vertex or not (5 triggers: [2/7]..., ENV/ARG shown nowhere).
    result = make_plan(
        "FROM onbuild-app\nRUN test -f Makefile\n", Images({"onbuild-app": ONBUILD_APP})
    )
    names = [s.name for s in steps(result) if s.vertex is not None]
    assert names == [
        "[1/2] FROM onbuild-app",
        "[2/7] ONBUILD WORKDIR /srv/app",
        "[3/7] ONBUILD COPY . /srv/app",
        "[4/7] ONBUILD RUN make -C $APP_DIR",
        "[5/7] RUN test -f Makefile",
    ]
    assert [s.vertex for s in steps(result) if s.vertex is not None] == [1, 2, 3, 4, 5]


def test_trigger_heredoc_and_exec_form() -> None:
    images = Images({"img": config([], ["RUN <<EOF\necho hi\nEOF", 'CMD ["serve", "--port=80"]'])})
    result = make_plan("FROM img\n", images)
    run, cmd = steps(result)[1:]
    assert isinstance(run.command, RunCommand)
    assert run.command.heredocs[0].content == "echo hi\n"
    assert run.name == "[2/3] ONBUILD RUN <<EOF (echo hi)"
    assert (cmd.kind, cmd.args, cmd.onbuild) == ("cmd", ["serve", "--port=80"], True)


def test_trigger_arg_consumes_a_build_arg() -> None:
    images = Images({"img": config([], ["ARG VERSION"])})
    result = make_plan("FROM img\n", images, build_args={"VERSION": "2"})
    assert result.warnings == []
    assert steps(result)[1].args == ["VERSION=2"]
    assert make_plan("FROM img\n", build_args={"VERSION": "2"}).warnings != []


def test_only_the_direct_base_image_triggers_run() -> None:
    # `child` was built FROM an image with triggers: they ran then, and its config
    # only lists its own. A stage FROM a stage does not run its base's image triggers again.
    images = Images({"child": config([], ["RUN echo child"])})
    result = make_plan("FROM child AS one\nRUN one\nFROM one AS two\nRUN two\n", images)
    assert [s.args for s in steps(result, 0) if s.onbuild] == [["echo child"]]
    assert [(s.kind, s.args, s.onbuild) for s in steps(result, 1)] == [
        ("from", ["one"], False),
        ("run", ["two"], False),
    ]
    assert images.asked == ["child"]


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ("ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("onbuild run x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM alpine", "FROM isn't allowed as an ONBUILD trigger"),
        ("MAINTAINER me@example.com", "MAINTAINER isn't allowed as an ONBUILD trigger"),
    ],
)
def test_forbidden_triggers(trigger: str, reason: str) -> None:
    err = plan_error(
        "ARG V=1\nFROM img:$V AS x\n", Images({"img:1": config([], ["RUN ok", trigger])})
    )
    assert err.message == f"invalid ONBUILD trigger {trigger!r} of base image img:1: {reason}"
    assert err.location is not None and err.location.line == 2
    assert err.location.source_line == "FROM img:$V AS x"


@pytest.mark.parametrize(
    ("trigger", "reason"),
    [
        ("FOO bar", "unknown instruction: FOO"),
        ("COPY onlyone", "COPY requires at least two arguments"),
        ("RUN --bogus x", "unknown flag: --bogus"),
        ("RUN a\nRUN b", "onbuild trigger should be a single expression"),
        ("", "file with no instructions"),
        ("# just a comment", "file with no instructions"),
        ("ENV", "ENV requires at least one argument"),
    ],
)
def test_unparsable_triggers_point_at_the_from_line(trigger: str, reason: str) -> None:
    err = plan_error("FROM alpine\nFROM img\nRUN x\n", Images({"img": config([], [trigger])}))
    assert err.message.startswith(f"invalid ONBUILD trigger {trigger!r} of base image img: ")
    assert reason in err.message
    assert err.location is not None and err.location.line == 2
    assert "ONBUILD" in (err.hint or "")
    assert "FROM img" in err.render()


def test_expansion_error_in_a_trigger_points_at_the_from_line() -> None:
    err = plan_error("FROM img\n", Images({"img": config([], ["WORKDIR ${DIR:?must be set}"])}))
    assert err.message == 'failed to process "${DIR:?must be set}": DIR: must be set'
    assert err.location is not None and err.location.line == 1
    assert err.hint == "in the ONBUILD trigger 'WORKDIR ${DIR:?must be set}' of base image img"


# ---------------------------------------------------------------- triggers and the stage graph


def test_trigger_copy_from_a_stage_is_a_dependency() -> None:
    images = Images(
        {
            "runtime": config(
                [], ["COPY --from=build /out /app", "RUN --mount=from=tools,target=/t x"]
            )
        }
    )
    result = make_plan(
        "FROM alpine AS build\nRUN make\nFROM alpine AS tools\nFROM runtime\nRUN ls /app\n", images
    )
    assert result.stages[2].depends_on == [0, 1]
    assert result.waves == [[0, 1], [2]]
    assert result.pruned == []
    assert images.asked == ["runtime", "alpine", "alpine"]  # build, tools: needed by the triggers


def test_trigger_can_make_a_stage_needed_whose_base_is_then_asked_for() -> None:
    images = Images(
        {"runtime": config([], ["COPY --from=assets /dist /srv"]), "node": config(["NODE=20"])}
    )
    text = "FROM node AS assets\nRUN npm run build\nFROM alpine AS unused\nFROM runtime AS final\n"
    result = make_plan(text, images)
    assert [s.display_name for s in result.pruned] == ["unused"]
    assert result.waves == [[0], [2]]
    assert images.asked == ["runtime", "node"]  # "unused" is never asked for
    assert any(v.name == "NODE" for v in steps(result, 0)[1].variables)


def test_trigger_copy_from_an_image_lists_it_first() -> None:
    images = Images({"img": config([], ["COPY --from=busybox:1.36 /bin/busybox /bin/"])})
    result = make_plan("FROM img\nCOPY --from=alpine /etc/os-release /\n", images)
    assert result.stages[0].images == ["busybox:1.36", "alpine"]
    # a single stage keeps its unprefixed names: BuildKit decides that before the triggers
    result = make_plan("FROM img\n", images)
    assert result.stages[0].images == ["busybox:1.36"]
    assert steps(result)[1].name == "[2/2] ONBUILD COPY --from=busybox:1.36 /bin/busybox /bin/"


def test_trigger_copy_from_a_later_stage_is_an_error() -> None:
    images = Images({"img": config([], ["COPY --from=later /x /x"])})
    err = plan_error("FROM img AS first\nFROM alpine AS later\nFROM first\n", images)
    assert (
        err.message
        == 'cannot copy from stage "later", it needs to be defined before current stage "first"'
    )
    assert err.location is not None and err.location.line == 1


def test_trigger_copy_from_its_own_stage_is_a_cycle() -> None:
    err = plan_error("FROM img AS self\n", Images({"img": config([], ["COPY --from=self /x /x"])}))
    assert err.message == "circular dependency detected on stage: self"


def test_trigger_copy_from_with_a_variable_is_an_error() -> None:
    err = plan_error("FROM img\n", Images({"img": config([], ["COPY --from=$STAGE /x /x"])}))
    assert "doesn't support variable expansion" in err.message


# ---------------------------------------------------------------- when base_image is called


def test_not_called_for_pruned_scratch_or_stage_bases() -> None:
    images = Images()
    make_plan(
        "FROM alpine AS a\nFROM debian AS pruned\nFROM scratch AS s\nFROM a AS b\n"
        "COPY --from=s / /\nCOPY --from=busybox / /\n",
        images,
        target="b",
    )
    assert images.asked == ["alpine"]


def test_called_with_the_expanded_name_once_per_needed_stage() -> None:
    images = Images()
    make_plan(
        "ARG TAG=3.20\nFROM alpine:$TAG AS a\nFROM alpine:${TAG}\nCOPY --from=a / /\n", images
    )
    assert images.asked == ["alpine:3.20", "alpine:3.20"]


def test_errors_from_base_image_propagate() -> None:
    def missing(name: str, platform: str) -> ImageConfig | None:
        raise ImageNotFoundError(f"no image {name} in the store")

    with pytest.raises(ImageNotFoundError, match="no image alpine in the store"):
        make_plan("FROM alpine\n", missing)


# ---------------------------------------------------------------- rendering


def test_json_has_onbuild_only_on_trigger_steps() -> None:
    plain = json.loads(render_json(make_plan("FROM alpine\nRUN true\n", Images())))
    assert all("onbuild" not in step for step in plain["stages"][0]["steps"])
    data = json.loads(
        render_json(make_plan("FROM img\nRUN true\n", Images({"img": config([], ["RUN x"])})))
    )
    assert [step.get("onbuild") for step in data["stages"][0]["steps"]] == [None, True, None]


SNAPSHOT_DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM node AS assets
RUN npm ci && npm run build

FROM onbuild-app AS app
ENV PATH=$HOME/.local/bin:$PATH
RUN --mount=type=cache,target=$HOME/.cache/pip pip install -e .
"""


def snapshot_plan() -> BuildPlan:
    images = Images(
        {
            "node": config(["NODE_VERSION=20.11.0", "YARN_VERSION=1.22.19"]),
            "onbuild-app": config(
                ["HOME=/root", "LANG=C.UTF-8"],
                [
                    "ARG APP_DIR=/srv/app",
                    "WORKDIR $APP_DIR",
                    "COPY --from=assets /dist $APP_DIR/static",
                    "ENV APP_DIR=$APP_DIR",
                    "RUN pip install -r requirements.txt",
                ],
            ),
        }
    )
    return make_plan(SNAPSHOT_DOCKERFILE, images)


def test_render_text_with_triggers(snapshot: SnapshotAssertion) -> None:
    assert render_text(snapshot_plan()) == snapshot


def test_render_json_with_triggers(snapshot: SnapshotAssertion) -> None:
    assert render_json(snapshot_plan()) == snapshot


# ---------------------------------------------------------------- the helper on its own


def test_parse_trigger_places_the_command() -> None:
    cmd = parse_trigger("COPY --from=x a b", line=7, column=3)
    assert isinstance(cmd, CopyCommand) and cmd.from_ == "x"
    assert (cmd.node.start_line, cmd.node.end_line, cmd.node.column) == (7, 7, 3)
    with pytest.raises(PlanError) as info:
        parse_trigger("FROM x")
    assert info.value.location is None
    assert (
        info.value.message
        == "invalid ONBUILD trigger 'FROM x': FROM isn't allowed as an ONBUILD trigger"
    )


_PIECES = [
    *"RUNCOPYENVARG =-$\\`\"'{}[]<>\n\t #/.:,01",
    "\x00", "\r", "é", "RUN ", "COPY ", "ONBUILD ", "FROM ", "<<EOF\n", "\nEOF",
    "--from=", "--mount=", '["a"]', "# escape=`\n",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
def test_hostile_trigger_text_is_a_command_or_a_plan_error(text: str) -> None:
    try:
        cmd = parse_trigger(text, line=4)
    except PlanError as exc:
        assert exc.message.startswith("invalid ONBUILD trigger ")
    else:
        assert cmd.node.start_line == 4
        assert cmd.node.keyword not in ("onbuild", "from", "maintainer")


def test_a_huge_trigger_is_cut_short_in_the_message() -> None:
    with pytest.raises(PlanError) as info:
        parse_trigger("FOO " + "x" * 100_000)
    assert len(info.value.message) < 300
    assert "unknown instruction: FOO" in info.value.message


def test_base_images_are_asked_for_the_stage_platform() -> None:
    asked: list[tuple[str, str]] = []

    def images(name: str, platform: str) -> ImageConfig | None:
        asked.append((name, platform))
        return None

    make_plan(
        "FROM --platform=$BUILDPLATFORM golang AS build\nFROM alpine\nCOPY --from=build / /\n",
        images,
        platform="linux/arm64",
        build_platform="linux/amd64",
    )
    assert sorted(asked) == [("alpine", "linux/arm64"), ("golang", "linux/amd64")]
