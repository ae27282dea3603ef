"""Typed instructions: flags, arguments and BuildKit's error messages."""

from __future__ import annotations

import pytest

from builder.dockerfile.ast import Instruction
from builder.dockerfile.commands import (
    AddCommand,
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    FromCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    RunCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    WorkdirCommand,
)
from builder.dockerfile.flags import InvalidCommand, heredoc_name, parse_duration, parse_ram_size
from builder.dockerfile.instructions import parse_command, parse_stages
from builder.dockerfile.mounts import Mount, parse_mount
from builder.dockerfile.parser import parse
from builder.errors import ParseError

SECOND = 1_000_000_000


def command(text: str) -> Command:
    """The typed form of the last instruction of `text` (a FROM is put in front)."""
    df = parse("FROM busybox\n" + text, path="Dockerfile")
    node = df.instructions[-1]
    return parse_command(node, df.escape, path=df.path, source_line=df.source_line(node.start_line))


def error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        command(text)
    return info.value


# ---------------------------------------------------------------- hand-built nodes


def node(keyword: str, *args: str, flags: tuple[str, ...] = (), json: bool = False) -> Instruction:
    return Instruction(
        keyword=keyword,
        written_keyword=keyword.upper(),
        flags=flags,
        args=args,
        json=json,
        start_line=7,
        end_line=7,
        original=" ".join([keyword.upper(), *flags, *args]),
    )


def test_hand_built_node_keeps_node_and_location() -> None:
    cmd = parse_command(node("workdir", "/app"), path="x/Dockerfile")
    assert isinstance(cmd, WorkdirCommand)
    assert cmd.path == "/app"
    assert cmd.line == 7 and cmd.keyword == "WORKDIR"
    with pytest.raises(ParseError) as info:
        parse_command(node("workdir", "/a", "/b"), path="x/Dockerfile")
    assert info.value.message == "WORKDIR requires exactly one argument"
    assert str(info.value.location) == "x/Dockerfile:7:1"


# ---------------------------------------------------------------- unknown instruction / flags


def test_unknown_instruction_suggests_the_closest() -> None:
    err = error("RUNN echo hi\n")
    assert err.message == "unknown instruction: RUNN"
    assert err.hint == "did you mean RUN?"
    assert err.location is not None and err.location.line == 2
    assert err.location.source_line == "RUNN echo hi"


def test_unknown_instruction_without_close_match_has_no_hint() -> None:
    err = error("XYZZYQ foo\n")
    assert err.message == "unknown instruction: XYZZYQ"
    assert err.hint is None


def test_unknown_flag_names_the_flag_and_suggests() -> None:
    err = error("COPY --chownn=1:1 a /b\n")
    assert err.message == "unknown flag: --chownn"
    assert err.hint == "did you mean --chown?"
    assert error("ADD --from=x a /b\n").message == "unknown flag: --from"
    assert error('CMD --doit ["a"]\n').message == "unknown flag: --doit"
    assert error("ENV --x=1 A=b\n").message == "unknown flag: --x"


def test_flag_value_errors() -> None:
    assert error("COPY --from a /b\n").message == "missing a value on flag: --from"
    assert error("COPY --link= a /b\n").message == "missing a value on flag: --link"
    assert error("COPY --link=maybe a /b\n").message == (
        "expecting boolean value for flag --link, not: maybe"
    )
    assert error("COPY --from=a --from=b x /y\n").message == "duplicate flag specified: --from"


def test_double_dash_ends_flags() -> None:
    cmd = command("COPY --link -- a /b\n")
    assert isinstance(cmd, CopyCommand) and cmd.link


# ---------------------------------------------------------------- FROM


def test_from_forms() -> None:
    df = parse("FROM --platform=$BUILDPLATFORM golang:1.22 AS Builder\nFROM alpine\n")
    first, second = (parse_command(n) for n in df.instructions)
    assert first == FromCommand(
        node=df.instructions[0], base_name="golang:1.22", stage_name="builder",
        platform="$BUILDPLATFORM",
    )  # fmt: skip
    assert isinstance(second, FromCommand)
    assert (second.stage_name, second.platform) == (None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("FROM a AS\n", "FROM requires either one or three arguments"),
        ("FROM a with b\n", "FROM requires either one or three arguments"),
        ("FROM a AS b c\n", "FROM requires either one or three arguments"),
        (
            "FROM a AS 1st\n",
            'invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
        ),
        (
            "FROM a AS my/stage\n",
            'invalid name for build stage: "my/stage", name can\'t start with a number or contain symbols',
        ),
        ("FROM --plat=x a\n", "unknown flag: --plat"),
    ],
)
def test_from_errors(text: str, message: str) -> None:
    df = parse(text)
    with pytest.raises(ParseError) as info:
        parse_command(df.instructions[0])
    assert info.value.message == message


def test_from_as_typo_has_a_hint() -> None:
    with pytest.raises(ParseError) as info:
        parse_command(parse("FROM golang with builder\n").instructions[0])
    assert info.value.hint == "use `AS` to name a stage: FROM golang AS builder"


def test_stage_names_allow_dots_dashes_underscores() -> None:
    cmd = parse_command(parse("FROM a AS my-stage_1.x\n").instructions[0])
    assert isinstance(cmd, FromCommand) and cmd.stage_name == "my-stage_1.x"


# ---------------------------------------------------------------- RUN


def test_run_shell_and_exec_form() -> None:
    shell = command("RUN echo $HOME && ls\n")
    assert isinstance(shell, RunCommand)
    assert shell.cmd_line == ["echo $HOME && ls"] and shell.prepend_shell
    assert (shell.network, shell.security, shell.mounts) == ("default", "sandbox", [])
    exec_ = command('RUN ["/bin/sh", "-c", "echo hi"]\n')
    assert isinstance(exec_, RunCommand)
    assert exec_.cmd_line == ["/bin/sh", "-c", "echo hi"] and not exec_.prepend_shell


def test_run_heredoc_is_kept() -> None:
    cmd = command("RUN <<EOF\necho hi\nEOF\n")
    assert isinstance(cmd, RunCommand)
    assert cmd.cmd_line == ["<<EOF"]
    assert [h.name for h in cmd.heredocs] == ["EOF"]
    assert cmd.heredocs[0].content == "echo hi\n"


def test_run_network_and_security() -> None:
    cmd = command("RUN --network=none --security=insecure true\n")
    assert isinstance(cmd, RunCommand)
    assert (cmd.network, cmd.security) == ("none", "insecure")
    host = command("RUN --network=host true\n")
    assert isinstance(host, RunCommand) and host.network == "host"
    err = error("RUN --network=bridge true\n")
    assert err.message == 'invalid network mode "bridge"'
    assert error("RUN --security=paranoid true\n").message == 'security "paranoid" is not valid'


def test_run_mounts_defaults_per_type() -> None:
    cmd = command(
        "RUN --mount=type=cache,target=/root/.cache,id=go,sharing=locked "
        "--mount=target=/src,from=builder,source=/out "
        "--mount=type=tmpfs,dst=/tmp,size=64m "
        "--mount=type=secret,id=npmrc,required "
        "--mount=type=ssh "
        "true\n"
    )
    assert isinstance(cmd, RunCommand)
    cache, bind, tmpfs, secret, ssh = cmd.mounts
    assert (cache.type, cache.target, cache.id, cache.sharing, cache.readonly) == (
        "cache", "/root/.cache", "go", "locked", False,
    )  # fmt: skip
    assert (bind.type, bind.target, bind.from_, bind.source, bind.readonly) == (
        "bind", "/src", "builder", "/out", True,
    )  # fmt: skip
    assert (tmpfs.type, tmpfs.target, tmpfs.size, tmpfs.readonly) == (
        "tmpfs",
        "/tmp",
        64 << 20,
        False,
    )
    assert (secret.type, secret.id, secret.required, secret.readonly) == (
        "secret",
        "npmrc",
        True,
        True,
    )
    assert ssh.type == "ssh" and ssh.target is None


def test_mount_options() -> None:
    m = parse_mount("type=cache,destination=/c,mode=0700,uid=1000,gid=1000,rw")
    assert (m.target, m.mode, m.uid, m.gid, m.readonly) == ("/c", 0o700, 1000, 1000, False)
    assert parse_mount("target=/x,readonly=false").readonly is False
    assert parse_mount("target=/x,ro").readonly is True
    assert parse_mount("type=bind,target=/x,rw=true").readonly is False
    assert parse_mount("type=secret,id=a,env=TOKEN").env == "TOKEN"
    assert parse_mount('"target=/a,b",ro').target == "/a,b"
    assert parse_mount('"target=/say ""hi"""').target == '/say "hi"'
    assert parse_mount("target=/x").raw == "target=/x"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=volume,target=/x", 'unsupported mount type "volume"'),
        ("type=cache,target=/x,sharing=open", 'unsupported sharing value "open"'),
        ("type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=bind,target=/x,mode=0755", 'mode not allowed for "bind" type mounts'),
        ("type=tmpfs,target=/x,uid=1", 'uid not allowed for "tmpfs" type mounts'),
        ("type=cache,target=/x,mode=999", "invalid value 999 for mode"),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=bind,target=/x,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=bind,target=/x,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=tmpfs,target=/x,size=lots", "invalid size: 'lots'"),
        ("target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("target=/x,colour=blue", "unexpected key 'colour' in 'colour=blue'"),
        ("target=/x,exec", "invalid field 'exec' must be a key=value pair"),
        ('target="/a,b"', 'failed to parse csv mounts: bare " in non-quoted field'),
        ('"target=/a', 'failed to parse csv mounts: extraneous or missing " in quoted-field'),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
        ("type=cache", 'mount type "cache" requires a target (target=/path)'),
        (
            "type=bind,target=/x,from=$STAGE",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
    ],
)
def test_mount_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidCommand) as info:
        parse_mount(value)
    assert info.value.message == message


def test_mount_error_in_run_is_a_parse_error_with_hint() -> None:
    err = error("RUN --mount=type=cahce,target=/x true\n")
    assert err.message == 'unsupported mount type "cahce"'
    assert err.hint == "did you mean cache?"


def test_mount_values_with_variables_are_checked_once_expanded() -> None:
    deferred = parse_mount("type=cache,target=$DIR,id=$ID")
    assert (deferred.target, deferred.id) == ("$DIR", "$ID")
    env = {"DIR": "/root/.cache", "ID": "x"}
    m = parse_mount(
        "type=cache,target=$DIR,id=$ID",
        lambda w: w.replace("$DIR", env["DIR"]).replace("$ID", env["ID"]),
    )
    assert (m.target, m.id) == ("/root/.cache", "x")
    with pytest.raises(InvalidCommand):
        parse_mount("type=$T,target=/x", lambda w: "volume" if w == "$T" else w)


# ---------------------------------------------------------------- COPY / ADD


def test_copy_flags() -> None:
    cmd = command(
        "COPY --from=builder --chown=app:app --chmod=0644 --link --parents "
        "--exclude=*.md --exclude=tests/ a b /dst/\n"
    )
    assert cmd == CopyCommand(
        node=cmd.node, sources=["a", "b"], dest="/dst/", from_="builder", chown="app:app",
        chmod="0644", link=True, parents=True, excludes=["*.md", "tests/"],
    )  # fmt: skip


def test_copy_bool_flag_false_and_json_form() -> None:
    cmd = command('COPY --link=false ["a b", "/d"]\n')
    assert isinstance(cmd, CopyCommand)
    assert (cmd.sources, cmd.dest, cmd.link) == (["a b"], "/d", False)


def test_copy_needs_a_destination() -> None:
    assert error("COPY onlyone\n").message == (
        "COPY requires at least two arguments, but only one was provided. "
        "Destination could not be determined."
    )
    assert error("ADD x\n").message.startswith("ADD requires at least two arguments")


def test_copy_heredoc_sources() -> None:
    cmd = command("COPY <<EOF /etc/motd\nhello\nEOF\n")
    assert isinstance(cmd, CopyCommand)
    assert cmd.sources == [] and cmd.dest == "/etc/motd"
    assert [h.content for h in cmd.heredocs] == ["hello\n"]


def test_add_flags() -> None:
    cmd = command(
        "ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chown=1 "
        "https://example.com/x.tgz /x\n"
    )
    assert isinstance(cmd, AddCommand)
    assert (cmd.checksum, cmd.keep_git_dir, cmd.unpack, cmd.chown) == (
        "sha256:abc",
        True,
        False,
        "1",
    )
    plain = command("ADD a /b\n")
    assert isinstance(plain, AddCommand) and plain.unpack is None and not plain.keep_git_dir


# ---------------------------------------------------------------- key/value instructions


def test_env_label_pairs_keep_raw_values() -> None:
    env = command('ENV A=1 B="two words" C=$A\n')
    assert isinstance(env, EnvCommand)
    assert env.pairs == [("A", "1"), ("B", '"two words"'), ("C", "$A")]
    legacy = command("ENV NAME some value\n")
    assert isinstance(legacy, EnvCommand) and legacy.pairs == [("NAME", "some value")]
    label = command('LABEL org.opencontainers.image.title="x y" a=b\n')
    assert isinstance(label, LabelCommand)
    assert label.pairs == [("org.opencontainers.image.title", '"x y"'), ("a", "b")]


def test_env_requires_a_pair() -> None:
    assert error("ENV\n").message == "ENV requires at least one argument"


def test_arg_forms() -> None:
    cmd = command('ARG A B=2 C="x y" D=\n')
    assert isinstance(cmd, ArgCommand)
    assert cmd.args == [("A", None), ("B", "2"), ("C", '"x y"'), ("D", "")]
    assert error("ARG =x\n").message == "ARG names can not be blank"
    assert error("ARG\n").message == "ARG requires at least one argument"


# ---------------------------------------------------------------- one-argument instructions


def test_simple_instructions() -> None:
    assert command("USER app:app\n") == UserCommand(
        node=command("USER app:app\n").node, user="app:app"
    )
    stop = command("STOPSIGNAL SIGTERM\n")
    assert isinstance(stop, StopSignalCommand) and stop.signal == "SIGTERM"
    maint = command("MAINTAINER Jane Doe <jane@example.com>\n")
    assert (
        isinstance(maint, MaintainerCommand) and maint.maintainer == "Jane Doe <jane@example.com>"
    )
    expose = command("EXPOSE 80/tcp 443 $PORT\n")
    assert isinstance(expose, ExposeCommand) and expose.ports == ["80/tcp", "443", "$PORT"]
    volume = command('VOLUME ["/data", "/logs"]\n')
    assert isinstance(volume, VolumeCommand) and volume.volumes == ["/data", "/logs"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("USER\n", "USER requires exactly one argument"),
        ("STOPSIGNAL\n", "STOPSIGNAL requires exactly one argument"),
        ("EXPOSE\n", "EXPOSE requires at least one argument"),
        ("VOLUME\n", "VOLUME requires at least one argument"),
        ('VOLUME [""]\n', "VOLUME specified can not be an empty string"),
        ("SHELL /bin/bash -c\n", "SHELL requires the arguments to be in JSON form"),
        ("SHELL []\n", "SHELL requires at least one argument"),
    ],
)
def test_argument_count_errors(text: str, message: str) -> None:
    assert error(text).message == message


def test_cmd_entrypoint_shell() -> None:
    cmd = command('CMD ["nginx", "-g", "daemon off;"]\n')
    assert isinstance(cmd, CmdCommand)
    assert cmd.cmd_line == ["nginx", "-g", "daemon off;"] and not cmd.prepend_shell
    entry = command("ENTRYPOINT exec /app --flag\n")
    assert isinstance(entry, EntrypointCommand)
    assert entry.cmd_line == ["exec /app --flag"] and entry.prepend_shell
    shell = command('SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n')
    assert isinstance(shell, ShellCommand) and shell.shell == ["/bin/bash", "-o", "pipefail", "-c"]


# ---------------------------------------------------------------- HEALTHCHECK


def test_healthcheck_shell_and_exec() -> None:
    cmd = command(
        "HEALTHCHECK --interval=1m30s --timeout=3s --start-period=500ms --start-interval=2s "
        "--retries=3 CMD curl -f http://localhost/ || exit 1\n"
    )
    assert isinstance(cmd, HealthcheckCommand)
    assert cmd.test == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    assert cmd.interval == 90 * SECOND
    assert cmd.timeout == 3 * SECOND
    assert cmd.start_period == SECOND // 2
    assert cmd.start_interval == 2 * SECOND
    assert cmd.retries == 3
    exec_ = command('HEALTHCHECK CMD ["/bin/check", "-q"]\n')
    assert isinstance(exec_, HealthcheckCommand) and exec_.test == ["CMD", "/bin/check", "-q"]
    assert exec_.interval == 0 and exec_.retries == 0
    none = command("HEALTHCHECK NONE\n")
    assert isinstance(none, HealthcheckCommand) and none.test is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HEALTHCHECK\n", "HEALTHCHECK requires at least one argument"),
        ("HEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments"),
        ("HEALTHCHECK CONNECT TCP 7000\n", 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
        ("HEALTHCHECK CMD\n", "Missing command after HEALTHCHECK CMD"),
        ("HEALTHCHECK --interval=30 CMD true\n", '--interval: time: missing unit in duration "30"'),
        ("HEALTHCHECK --timeout=soon CMD true\n", '--timeout: time: invalid duration "soon"'),
        ("HEALTHCHECK --interval=10us CMD true\n", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK --retries=-1 CMD true\n", "--retries cannot be negative (-1)"),
        ("HEALTHCHECK --retries=x CMD true\n", 'strconv.ParseInt: parsing "x": invalid syntax'),
        ("HEALTHCHECK --every=5s CMD true\n", "unknown flag: --every"),
    ],
)
def test_healthcheck_errors(text: str, message: str) -> None:
    assert error(text).message == message


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("30s", 30 * SECOND),
        ("1m30s", 90 * SECOND),
        ("1.5h", 5400 * SECOND),
        ("300ms", 300_000_000),
        ("2h45m", (2 * 3600 + 45 * 60) * SECOND),
        ("0", 0),
        ("1us", 1000),
        ("-1s", -SECOND),
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "s", "1x", "1 s", "1s2", "--1s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="time: "):
        parse_duration(text)


def test_ram_sizes() -> None:
    assert parse_ram_size("512") == 512
    assert parse_ram_size("64m") == 64 << 20
    assert parse_ram_size("1GiB") == 1 << 30
    assert parse_ram_size("2kb") == 2048


# ---------------------------------------------------------------- ONBUILD


def test_onbuild_expression() -> None:
    cmd = command("ONBUILD RUN echo hi\n")
    assert isinstance(cmd, OnbuildCommand)
    assert cmd.expression == "RUN echo hi" and cmd.trigger == "RUN"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ONBUILD FROM alpine\n", "FROM isn't allowed as an ONBUILD trigger"),
        ("ONBUILD MAINTAINER me\n", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("ONBUILD ONBUILD RUN x\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ],
)
def test_onbuild_forbidden_triggers(text: str, message: str) -> None:
    assert error(text).message == message


# ---------------------------------------------------------------- helpers


def test_heredoc_name() -> None:
    assert heredoc_name("<<EOF") == "EOF"
    assert heredoc_name("<<-'END'") == "END"
    assert heredoc_name('3<<"X"') == "X"
    assert heredoc_name("<EOF") is None
    assert heredoc_name("a<<b") is None


def test_mount_defaults_are_a_readonly_bind() -> None:
    assert parse_mount("target=/x") == Mount(
        type="bind", target="/x", readonly=True, raw="target=/x"
    )


# ---------------------------------------------------------------- stages


def test_parse_stages_splits_at_from() -> None:
    df = parse(
        "ARG BASE=alpine\nARG TAG\n"
        "FROM $BASE:$TAG AS build\nRUN make\n"
        "FROM scratch\nCOPY --from=build /out /\n"
    )
    meta, stages = parse_stages(df)
    assert [a.args for a in meta] == [[("BASE", "alpine")], [("TAG", None)]]
    assert [(s.name, s.index, s.base_name) for s in stages] == [
        ("build", 0, "$BASE:$TAG"),
        (None, 1, "scratch"),
    ]
    assert [type(c).__name__ for c in stages[0].commands] == ["RunCommand"]
    assert [type(c).__name__ for c in stages[1].commands] == ["CopyCommand"]
    assert stages[1].node.start_line == 5


def test_only_arg_before_first_from() -> None:
    df = parse("ARG A=1\nENV B=2\nFROM alpine\n", path="app/Dockerfile")
    with pytest.raises(ParseError) as info:
        parse_stages(df)
    err = info.value
    assert err.message == "no build stage in current context"
    assert str(err.location) == "app/Dockerfile:2:1"
    assert err.hint == "only ARG may come before the first FROM, not ENV"


def test_parse_stages_of_a_file_without_from() -> None:
    meta, stages = parse_stages(parse("ARG A\n"))
    assert len(meta) == 1 and stages == []


def test_parse_error_renders_with_caret() -> None:
    err = error("COPY --chmodd=644 a /b\n")
    assert err.render().splitlines() == [
        "Dockerfile:2:1: unknown flag: --chmodd",
        "     2 | COPY --chmodd=644 a /b",
        "       | ^",
        "hint: did you mean --chmod?",
    ]
