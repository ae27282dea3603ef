"""Instructions that only change the image config, and every step's history text.

Each function takes the stage's config as it stands and one planned step,
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
    CmdCommand,
    EntrypointCommand,
    HealthcheckCommand,
    MaintainerCommand,
    OnbuildCommand,
    ShellCommand,
)
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
    """`80`, `80/udp`, `8000-8001/tcp`, `127.0.0.1:80:80` -> ["80/tcp", ...]."""
    port, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    port = port.rsplit(":", 1)[-1]  # ip:host:container: only the container port is exposed
    if proto not in ("tcp", "udp", "sctp"):
        raise BuildError(f"{where}: invalid protocol {proto!r} in EXPOSE {spec}")
    low, dash, high = port.partition("-")
    try:
        first = int(low)
        last = int(high) if dash else first
    except ValueError:
        raise BuildError(f"{where}: invalid port {spec!r} in EXPOSE") from None
    if not (0 <= first <= last <= 65535):
        raise BuildError(f"{where}: invalid port range {spec!r} in EXPOSE")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


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
    handler = _HANDLERS.get(step.kind)
    if handler is None:
        raise BuildError(f"{where}: {step.kind.upper()} is not a config-only instruction")
    return handler(state, step, where)


def _arg(state: StageConfig, step: Step, where: str) -> str:
    for item in step.args:
        name = item.partition("=")[0]
        if name not in state.arg_names:
            state.arg_names.append(name)
    return "ARG " + " ".join(step.args)


def _env(state: StageConfig, step: Step, where: str) -> str:
    env = state.image.config.env
    for item in step.args:
        key, _, value = item.partition("=")
        env = set_env(env, key, value)
    state.image.config.env = env
    return "ENV " + " ".join(step.args)


def _label(state: StageConfig, step: Step, where: str) -> str:
    for item in step.args:
        key, _, value = item.partition("=")
        state.image.config.labels[key] = value
    return "LABEL " + " ".join(step.args)


def _maintainer(state: StageConfig, step: Step, where: str) -> str:
    cmd = step.command
    name = cmd.maintainer if isinstance(cmd, MaintainerCommand) else " ".join(step.args)
    state.image.author = name
    return f"MAINTAINER {name}"


def _expose(state: StageConfig, step: Step, where: str) -> str:
    ports = [p for spec in step.args for p in parse_exposed(spec, where)]
    for p in ports:
        state.image.config.exposed_ports[p] = {}
    return "EXPOSE " + go_set(ports)


def _volume(state: StageConfig, step: Step, where: str) -> str:
    for v in step.args:
        if not v.strip():
            raise BuildError(f"{where}: VOLUME specified can not be an empty string")
        state.image.config.volumes[v] = {}
    return "VOLUME " + go_list(step.args)


def _user(state: StageConfig, step: Step, where: str) -> str:
    state.image.config.user = step.args[0] if step.args else ""
    return f"USER {state.image.config.user}"


def _stopsignal(state: StageConfig, step: Step, where: str) -> str:
    state.image.config.stop_signal = step.args[0]
    return f"STOPSIGNAL {step.args[0]}"


def _shell(state: StageConfig, step: Step, where: str) -> str:
    cmd = step.command
    shell = list(cmd.shell) if isinstance(cmd, ShellCommand) else list(step.args)
    state.image.config.shell = shell
    return "SHELL " + go_list(shell)


def _cmd(state: StageConfig, step: Step, where: str) -> str:
    cmd = step.command
    assert isinstance(cmd, CmdCommand)
    line = shell_form(state, cmd.cmd_line, cmd.prepend_shell)
    state.image.config.cmd = line
    state.image.config.args_escaped = cmd.prepend_shell or state.image.config.args_escaped
    state.cmd_set = True
    return "CMD " + go_quoted_list(line)


def _entrypoint(state: StageConfig, step: Step, where: str) -> str:
    cmd = step.command
    assert isinstance(cmd, EntrypointCommand)
    line = shell_form(state, cmd.cmd_line, cmd.prepend_shell)
    state.image.config.entrypoint = line
    if cmd.prepend_shell:
        state.image.config.args_escaped = True
    if not state.cmd_set:  # Docker: ENTRYPOINT resets a CMD inherited from the base
        state.image.config.cmd = None
    return "ENTRYPOINT " + go_quoted_list(line)


def _healthcheck(state: StageConfig, step: Step, where: str) -> str:
    hc = step.command
    assert isinstance(hc, HealthcheckCommand)
    if hc.test is None:
        state.image.config.healthcheck = HealthCheck(test=["NONE"])
    else:
        state.image.config.healthcheck = HealthCheck(
            test=list(hc.test),
            interval=hc.interval,
            timeout=hc.timeout,
            start_period=hc.start_period,
            start_interval=hc.start_interval,
            retries=hc.retries,
        )
    return healthcheck_history(hc)


def _onbuild(state: StageConfig, step: Step, where: str) -> str | None:
    cmd = step.command
    expression = cmd.expression if isinstance(cmd, OnbuildCommand) else " ".join(step.args)
    state.image.config.on_build = [*(state.image.config.on_build or []), expression]
    return None


_HANDLERS: dict[str, Callable[[StageConfig, Step, str], str | None]] = {
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


def copy_history(step: Step) -> str:
    """`COPY src /dest # buildkit`: sources and destination, without flags."""
    return f"{step.kind.upper()} " + " ".join(step.args) + " # buildkit"
