"""Questions rules ask about commands: flags, arguments, programs (hadolint's Shell.hs)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from builder.lint.shell.model import Command, Script


def _plain(flag: str) -> str:
    return flag.lstrip("-") if flag.startswith("-") and flag not in ("-", "--") else flag


def has_flag(cmd: Command, flag: str) -> bool:
    """`-y` / `y`: the command has that flag (`-xy` has both x and y)."""
    name = _plain(flag)
    return any(f == name for f, _ in cmd.flags)


def has_any_flag(cmd: Command, flags: Iterable[str]) -> bool:
    names = {_plain(f) for f in flags}
    return any(f in names for f, _ in cmd.flags)


def flag_count(cmd: Command, flag: str) -> int:
    name = _plain(flag)
    return sum(1 for f, _ in cmd.flags if f == name)


def has_arg(cmd: Command, arg: str) -> bool:
    """Some argument is exactly `arg`."""
    return arg in cmd.args


def cmd_has_args(cmd: Command, name: str, args: Iterable[str]) -> bool:
    """The command is `name` and one of its arguments is one of `args`."""
    if cmd.name != name:
        return False
    wanted = set(args)
    return any(a in wanted for a in cmd.args)


def cmd_has_prefix_arg(cmd: Command, name: str, prefix: str) -> bool:
    return cmd.name == name and any(a.startswith(prefix) for a in cmd.args)


def args_without_flags(cmd: Command) -> list[str]:
    """The arguments that are not flags (a flag's value counts as an argument)."""
    flag_ids = {i for _, i in cmd.flags}
    return [a for a, i in zip(cmd.args, cmd.ids, strict=True) if i not in flag_ids]


def _next_id(cmd: Command, flag_id: int) -> int | None:
    for i in cmd.ids:
        if i > flag_id:
            return i
    return None


def drop_flag_args(cmd: Command, flags: Iterable[str]) -> Command:
    """The command without the word after each of `flags` (that flag's value).

    Like hadolint, the word after the flag goes even when the value was
    attached (`--target=x pkg` loses `pkg`); the flags themselves stay.
    """
    names = {_plain(f) for f in flags}
    drop = {_next_id(cmd, i) for f, i in cmd.flags if f in names}
    drop.discard(None)
    if not drop:
        return cmd
    keep = [k for k, i in enumerate(cmd.ids) if i not in drop]
    return Command(
        cmd.name,
        tuple(cmd.words[k] for k in keep),
        tuple(cmd.args[k] for k in keep),
        tuple(cmd.ids[k] for k in keep),
        cmd.flags,
    )


def flag_values(cmd: Command, flag: str) -> list[str]:
    """The word after each occurrence of `flag` (hadolint's getFlagArg)."""
    name = _plain(flag)
    wanted = {_next_id(cmd, i) for f, i in cmd.flags if f == name}
    return [a for a, i in zip(cmd.args, cmd.ids, strict=True) if i in wanted]


def is_pip_install(cmd: Command) -> bool:
    """`pip* install ...` or `python* -m pip install ...`."""
    if cmd.name.startswith("pip"):
        return "install" in cmd.args
    if cmd.name.startswith("python"):
        return contains_run(cmd.args, ("-m", "pip", "install"))
    return False


def contains_run(args: Sequence[str], run: Sequence[str]) -> bool:
    """`run` appears as consecutive arguments (Haskell's isInfixOf on lists)."""
    n = len(run)
    return any(tuple(args[i : i + n]) == tuple(run) for i in range(len(args) - n + 1))


def find_commands(script: Script, name: str) -> list[Command]:
    return [c for c in script.commands if c.name == name]


def using_program(script: Script, name: str) -> bool:
    return any(c.name == name for c in script.commands)


def iter_commands(scripts: Iterable[Script]) -> Iterator[Command]:
    for script in scripts:
        yield from script.commands
