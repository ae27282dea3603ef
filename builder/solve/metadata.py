"""Instructions that only change the image config, and every step's history text.

Each function takes the stage's config as it stands and one planned step's
typed command (already expanded by the plan),
and changes the config the way BuildKit does for the same Dockerfile
(checked against a BuildKit build: `Env` order, `ExposedPorts` keys, CMD
reset by ENTRYPOINT, `ArgsEscaped`, `author` from MAINTAINER...). The
history text (`created_by`) is BuildKit's too, Go formatting included.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

from builder.dockerfile.commands import (
    AddCommand,
    ArgCommand,
    CmdCommand,
    Command,
    CopyCommand,
    EntrypointCommand,
    EnvCommand,
    ExposeCommand,
    HealthcheckCommand,
    LabelCommand,
    MaintainerCommand,
    OnbuildCommand,
    ShellCommand,
    StopSignalCommand,
    UserCommand,
    VolumeCommand,
    copy_words,
)
from builder.dockerfile.flags import InvalidCommand
from builder.dockerfile.ports import exposed_ports
from builder.errors import BuildError
from builder.image.model import HealthCheck, ImageConfig
from builder.plan.model import Step
from builder.solve.gofmt import go_duration, go_list, go_quoted_list, go_rune, go_set

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
HISTORY_COMMENT = "buildkit.dockerfile.v0"


@dataclass
class StageConfig:
    """A stage's image config while its steps run, with what BuildKit tracks beside it."""

    image: ImageConfig
    cmd_set: bool = False  #: CMD given in this stage (ENTRYPOINT then keeps it)
    arg_names: list[str] = field(default_factory=list)  #: ARGs declared, for RUN history

    @property
    def shell(self) -> list[str]:
        return list(self.image.config.shell or DEFAULT_SHELL)


def start_stage(image: ImageConfig) -> StageConfig:
    """A stage's config right after FROM: the base's, with PATH defaulted as BuildKit does."""
    config = ImageConfig.from_bytes(image.to_bytes())  # a deep copy
    if not any(e.startswith("PATH=") for e in config.config.env):
        config.config.env = [*config.config.env, f"PATH={DEFAULT_PATH}"]
    return StageConfig(image=config)


def set_env(env: list[str], key: str, value: str) -> list[str]:
    """Replace `key` in place, or append it (Docker keeps the first position)."""
    out = list(env)
    for i, item in enumerate(out):
        if item.partition("=")[0] == key:
            out[i] = f"{key}={value}"
            return out
    out.append(f"{key}={value}")
    return out


def parse_exposed(spec: str, where: str) -> list[str]:
    """`80`, `80/udp`, `8000-8001/tcp`, `127.0.0.1:80:80` -> ["80/tcp", ...] (Docker's rules)."""
    try:
        return exposed_ports(spec)
    except InvalidCommand as err:
        raise BuildError(f"{where}: EXPOSE {spec}: {err.message}") from None


def resolve_workdir(current: str, path: str) -> str:
    """WORKDIR: relative paths join the current one; the result is clean and absolute."""
    joined = path if path.startswith("/") else posixpath.join(current or "/", path)
    return posixpath.normpath("/" + joined.lstrip("/")) if joined else "/"


def shell_form(state: StageConfig, cmd_line: list[str], prepend_shell: bool) -> list[str]:
    return [*state.shell, " ".join(cmd_line)] if prepend_shell else list(cmd_line)


def healthcheck_history(hc: HealthcheckCommand) -> str:
    """`HEALTHCHECK &{["CMD-SHELL" "x"] "30s" "3s" "0s" "0s" '\\x03'}` (Go's %q of the struct)."""
    if hc.test is None:
        return 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'
    durations = (hc.interval, hc.timeout, hc.start_period, hc.start_interval)
    fields = [go_quoted_list(hc.test), *(f'"{go_duration(d)}"' for d in durations)]
    return "HEALTHCHECK &{" + " ".join([*fields, go_rune(hc.retries)]) + "}"


def apply_config_step(state: StageConfig, step: Step, where: str) -> str | None:
    """Apply a config-only step (ENV, LABEL, CMD...) to `state`; return its history text.

    None means no history entry: BuildKit records none for ONBUILD.
    """
    cmd = step.command
    handler = _HANDLERS.get(step.kind)
    if handler is None or cmd is None:
        raise BuildError(f"{where}: {step.kind.upper()} is not a config-only instruction")
    return handler(state, cmd, where)


def _pair_text(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{key}={value}" for key, value in pairs)


def _arg(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, ArgCommand)
    for name, _ in cmd.args:
        if name not in state.arg_names:
            state.arg_names.append(name)
    words = [name if value is None else f"{name}={value}" for name, value in cmd.args]
    return "ARG " + " ".join(words)


def _env(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, EnvCommand)
    env = state.image.config.env
    for key, value in cmd.pairs:
        env = set_env(env, key, value)
    state.image.config.env = env
    return "ENV " + _pair_text(cmd.pairs)


def _label(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, LabelCommand)
    for key, value in cmd.pairs:
        state.image.config.labels[key] = value
    return "LABEL " + _pair_text(cmd.pairs)


def _maintainer(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, MaintainerCommand)
    state.image.author = cmd.maintainer
    return f"MAINTAINER {cmd.maintainer}"


def _expose(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, ExposeCommand)
    ports = [p for spec in cmd.ports for p in parse_exposed(spec, where)]
    for p in ports:
        state.image.config.exposed_ports[p] = {}
    return "EXPOSE " + go_set(ports)


def _volume(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, VolumeCommand)
    for v in cmd.volumes:
        if not v.strip():
            raise BuildError(f"{where}: VOLUME specified can not be an empty string")
        state.image.config.volumes[v] = {}
    return "VOLUME " + go_list(cmd.volumes)


def _user(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, UserCommand)
    state.image.config.user = cmd.user
    return f"USER {state.image.config.user}"


def _stopsignal(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, StopSignalCommand)
    state.image.config.stop_signal = cmd.signal
    return f"STOPSIGNAL {cmd.signal}"


def _shell(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, ShellCommand)
    state.image.config.shell = list(cmd.shell)
    return "SHELL " + go_list(cmd.shell)


def _cmd(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, CmdCommand)
    line = shell_form(state, cmd.cmd_line, cmd.prepend_shell)
    state.image.config.cmd = line
    state.image.config.args_escaped = cmd.prepend_shell or state.image.config.args_escaped
    state.cmd_set = True
    return "CMD " + go_quoted_list(line)


def _entrypoint(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, EntrypointCommand)
    line = shell_form(state, cmd.cmd_line, cmd.prepend_shell)
    state.image.config.entrypoint = line
    if cmd.prepend_shell:
        state.image.config.args_escaped = True
    if not state.cmd_set:  # Docker: ENTRYPOINT resets a CMD inherited from the base
        state.image.config.cmd = None
    return "ENTRYPOINT " + go_quoted_list(line)


def _healthcheck(state: StageConfig, cmd: Command, where: str) -> str:
    assert isinstance(cmd, HealthcheckCommand)
    if cmd.test is None:
        state.image.config.healthcheck = HealthCheck(test=["NONE"])
    else:
        state.image.config.healthcheck = HealthCheck(
            test=list(cmd.test),
            interval=cmd.interval,
            timeout=cmd.timeout,
            start_period=cmd.start_period,
            start_interval=cmd.start_interval,
            retries=cmd.retries,
        )
    return healthcheck_history(cmd)


def _onbuild(state: StageConfig, cmd: Command, where: str) -> str | None:
    assert isinstance(cmd, OnbuildCommand)
    state.image.config.on_build = [*(state.image.config.on_build or []), cmd.expression]
    return None


_HANDLERS: dict[str, Callable[[StageConfig, Command, str], str | None]] = {
    "arg": _arg,
    "env": _env,
    "label": _label,
    "maintainer": _maintainer,
    "expose": _expose,
    "volume": _volume,
    "user": _user,
    "stopsignal": _stopsignal,
    "shell": _shell,
    "cmd": _cmd,
    "entrypoint": _entrypoint,
    "healthcheck": _healthcheck,
    "onbuild": _onbuild,
}

CONFIG_ONLY_KINDS = frozenset(_HANDLERS)


def run_history(state: StageConfig, step: Step, args: list[str]) -> str:
    """`RUN |1 V=1 /bin/sh -c echo $V # buildkit`: declared ARGs, then the command."""
    values = {v.name: v.value for v in step.variables if v.source != "proxy"}
    pairs = [f"{name}={values[name]}" for name in state.arg_names if name in values]
    prefix = [f"|{len(pairs)}", *pairs] if pairs else []
    return "RUN " + " ".join([*prefix, *args]) + " # buildkit"


def copy_history(cmd: CopyCommand | AddCommand) -> str:
    """`COPY src /dest # buildkit`: sources and destination, without flags."""
    return f"{cmd.keyword} " + " ".join(copy_words(cmd)) + " # buildkit"
