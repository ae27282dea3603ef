"""RUN: the command in a transient container on the stage's overlay root, committed as a layer.

The step's typed command is already expanded by the plan (its `--mount`
values); the command line itself is the shell's to expand, with the ARG and
ENV values the step sees as its environment, as BuildKit does.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from builder.dockerfile.commands import RunCommand, chomped
from builder.errors import BuildError, Location
from builder.plan.model import Step
from builder.solve.cache.keys import CachedStep
from builder.solve.metadata import StageConfig, run_history
from builder.solve.progress import StepOutput

if TYPE_CHECKING:
    from builder.runtime.spec import Mount
    from builder.solve.mounts.run import MountSources
    from builder.solve.request import SolveRequest
    from builder.solve.stages import StageState
    from builder.solve.workspace import Workspace

Locate = Callable[[int], Location]


def run_argv(shell: list[str], cmd: RunCommand) -> tuple[list[str], str | None]:
    """A RUN's argv, and the script to mount when a heredoc starts with `#!`.

    Shell form runs through SHELL. `RUN <<EOF` runs the body as the script
    (as a file when it has a `#!` line, so the kernel honours it); heredocs
    that feed a command (`python3 <<EOF`) go to the shell with the command.
    """
    if not cmd.prepend_shell:
        return list(cmd.cmd_line), None
    script = cmd.cmd_line[0]
    if not cmd.heredocs:
        return [*shell, script], None
    only = cmd.heredocs[0]
    if len(cmd.heredocs) == 1 and script.strip() in (f"<<{only.name}", f"<<-{only.name}"):
        body = chomped(only)
        if body.startswith("#!"):
            return [f"/dev/pipes/{only.name}"], body
        return [*shell, body], None
    text = script + "\n" + "".join(h.content + h.name + "\n" for h in cmd.heredocs)
    return [*shell, text.rstrip("\n")], None


def run_text(config: StageConfig, step: Step) -> str:
    """The history text of a RUN step (`RUN |1 V=1 /bin/sh -c ... # buildkit`)."""
    assert isinstance(step.command, RunCommand)
    args, _ = run_argv(config.shell, step.command)
    return run_history(config, step, args)


def run_network(request: SolveRequest, cmd: RunCommand) -> Literal["default", "host", "none"]:
    """The network of a RUN step: its own flag, else the build's `--network`.

    `host` needs the network.host entitlement (`--allow network.host`), as in
    BuildKit; without it this is a BuildError (the caller adds the location).
    """
    wanted = request.network if cmd.network == "default" else cmd.network
    if wanted == "host":
        if not request.allow_host_network:
            raise BuildError(
                "RUN --network=host is not allowed without the network.host entitlement",
                hint="the step would share the build machine's network, its loopback "
                "included: pass --allow network.host to pybuild build",
            )
        return "host"
    if wanted == "none":
        return "none"
    if wanted != "default":
        raise BuildError(f"RUN --network={wanted} is not supported (use default, none or host)")
    return "default"


def check_run_networks(request: SolveRequest, steps: Iterable[Step], location: Locate) -> None:
    """Refuse, before anything runs, a RUN step whose network the build may not give it."""
    for step in steps:
        if isinstance(step.command, RunCommand):
            try:
                run_network(request, step.command)
            except BuildError as error:
                raise BuildError(error.message, location(step.line), hint=error.hint) from None


def run_step(ws: Workspace, state: StageState, step: Step, stack: ExitStack) -> CachedStep:
    # imported here: `restore` needs this module's history text, and a cached
    # rebuild must not load the runtime and mount code (start-up time)
    from builder.runtime.container import run
    from builder.runtime.rootpath import mkdir_in_root
    from builder.runtime.spec import RunSpec
    from builder.solve.mounts.run import prepare_mounts

    cmd = step.command
    assert isinstance(cmd, RunCommand)
    network = run_network(ws.request, cmd)
    insecure = cmd.security == "insecure"
    if insecure and not ws.request.allow_insecure:
        raise BuildError(
            "RUN --security=insecure is not allowed",
            hint="pass --allow security.insecure to pybuild build",
        )
    # the plan's variables are BuildKit's RUN environment: image env, ENV, ARG, in order
    env = [f"{v.name}={v.value}" for v in step.variables]
    tail: collections.deque[str] = collections.deque(maxlen=10)
    pending = b""

    def output(data: bytes) -> None:
        nonlocal pending
        if step.vertex is not None:
            ws.progress(StepOutput(step.vertex, data))
        pending += data
        *lines, pending = pending.split(b"\n")
        tail.extend(line.decode("utf-8", "replace") for line in lines)

    with ws.step_work() as work:
        with ws.mounted(state, work) as mounted:
            root = mounted.merged
            user = ws.user(root, state)
            cwd = state.config.image.config.working_dir or "/"
            mkdir_in_root(root, cwd)
            args, heredoc_mounts = _argv_and_script(state.config.shell, cmd, work)
            with prepare_mounts(
                cmd.mounts, _mount_sources(ws, stack), work_dir=work / "mounts", workdir=cwd,
                step_env=env, insecure=insecure, cancel=ws.cancel,
            ) as (run_mounts, extra_env):  # fmt: skip
                spec = RunSpec(
                    args=args,
                    env=_with_env(env, extra_env),
                    cwd=cwd,
                    user=user,
                    network=network,
                    mounts=[*heredoc_mounts, *run_mounts, *_emulator_mounts(state)],
                    insecure=insecure,
                    sandbox=ws.request.sandbox,
                )
                result = run(
                    root, spec, runtime=ws.request.runtime, output=output,
                    work_dir=work / "bundle", cancel=ws.cancel,
                    state_root=ws.runtime_root(), owner=ws.owner(),
                )  # fmt: skip
        if pending:
            tail.append(pending.decode("utf-8", "replace"))
        if result.exit_code != 0:
            raise BuildError(
                f'process "{" ".join(args)}" did not complete successfully: '
                f"exit code: {result.exit_code}",
                ws.location(step.line),
                hint=("last output lines:\n" + "\n".join(f"  {t}" for t in tail)) if tail else None,
            )
        return ws.commit(state, work / "upper", run_history(state.config, step, args))


def _argv_and_script(
    shell: list[str], cmd: RunCommand, work: Path
) -> tuple[list[str], list[Mount]]:
    """The process's argv, and a mount for a heredoc script with a `#!` line."""
    from builder.runtime.spec import Mount

    args, script = run_argv(shell, cmd)
    if script is None:
        return args, []
    scripts = work / "heredocs"
    scripts.mkdir(exist_ok=True)
    path = scripts / "script"
    path.write_text(script)
    path.chmod(0o755)
    return args, [Mount(args[0], "bind", str(path), ("rbind", "ro"))]


def _emulator_mounts(state: StageState) -> list[Mount]:
    """For a foreign architecture, the QEMU interpreter's bind when binfmt_misc needs one.

    A native stage pays nothing: not even /proc is read. A handler registered
    with the fix-binary flag needs no mount either.
    """
    from builder.image.platform import needs_emulation, normalize

    platform = normalize(state.config.image.platform)
    if not platform.architecture or not needs_emulation(platform):
        return []
    from builder.runtime.emulation import find_emulator
    from builder.runtime.spec import Mount

    emulator = find_emulator(str(platform))
    if emulator.fix_binary:
        return []
    return [Mount(emulator.interpreter, "bind", emulator.bind_source(), ("rbind", "ro"))]


def _mount_sources(ws: Workspace, stack: ExitStack) -> MountSources:
    from builder.solve.mounts.run import MountSources

    return MountSources(
        context_dir=ws.request.context_dir,
        ignore=ws.ignore,
        stage_root=lambda name: ws.readonly_root(name, stack),
        secrets=ws.request.secrets,
        ssh=ws.request.ssh,
        cache_root=ws.store.cache_root,
    )


def _with_env(env: list[str], extra: dict[str, str]) -> list[str]:
    """`env` with `extra` set: existing names replaced in place, new ones appended."""
    out = [item for item in env if item.partition("=")[0] not in extra]
    return out + [f"{k}={v}" for k, v in extra.items()]
