"""`commit -c INSTR`: Dockerfile instructions applied to the new image's config.

CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL and VOLUME,
with docker's forms: JSON arrays, or shell form run through `/bin/sh -c`;
`KEY=VALUE ...` pairs (quoted with shell rules) or the old `ENV KEY VALUE`.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import shlex

from builder.errors import ContainerError
from builder.image.model import ContainerConfig

SUPPORTED = (
    "CMD", "ENTRYPOINT", "ENV", "WORKDIR", "USER", "LABEL", "EXPOSE", "STOPSIGNAL", "VOLUME",
)  # fmt: skip


def _exec_form(text: str) -> list[str]:
    """A JSON array of strings, else the shell form `/bin/sh -c TEXT`."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", stripped]


def _pairs(keyword: str, text: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise ContainerError(f"{keyword} {text!r}: {err}") from None
    if words and "=" not in words[0]:  # the old form: ENV KEY VALUE...
        if len(words) < 2:
            raise ContainerError(f"{keyword} requires a value")
        return [(words[0], text.strip()[len(words[0]) :].strip())]
    out = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise ContainerError(f"{keyword}: {word!r} is not KEY=VALUE")
        out.append((key, value))
    return out


def apply_change(config: ContainerConfig, instruction: str) -> ContainerConfig:
    """`config` with one `-c` instruction applied."""
    keyword, _, rest = instruction.strip().partition(" ")
    keyword = keyword.upper()
    rest = rest.strip()
    if keyword not in SUPPORTED:
        raise ContainerError(
            f"{keyword or instruction!r} is not a valid change command",
            hint="use one of " + ", ".join(SUPPORTED),
        )
    if not rest:
        raise ContainerError(f"{keyword} requires an argument")
    change = dataclasses.replace
    if keyword == "CMD":
        return change(config, cmd=_exec_form(rest))
    if keyword == "ENTRYPOINT":
        return change(config, entrypoint=_exec_form(rest), cmd=None)
    if keyword == "ENV":
        env = list(config.env)
        for key, value in _pairs(keyword, rest):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        return change(config, env=env)
    if keyword == "LABEL":
        return change(config, labels={**config.labels, **dict(_pairs(keyword, rest))})
    if keyword == "WORKDIR":
        return change(config, working_dir=posixpath.join(config.working_dir or "/", rest))
    if keyword == "USER":
        return change(config, user=rest)
    if keyword == "STOPSIGNAL":
        return change(config, stop_signal=rest)
    if keyword == "VOLUME":
        paths = _exec_form(rest) if rest.startswith("[") else rest.split()
        return change(config, volumes={**config.volumes, **{p: {} for p in paths}})
    ports = dict(config.exposed_ports)
    for port in rest.split():
        ports[port if "/" in port else f"{port}/tcp"] = {}
    return change(config, exposed_ports=ports)


def apply_changes(config: ContainerConfig, instructions: list[str]) -> ContainerConfig:
    for instruction in instructions:
        config = apply_change(config, instruction)
    return config
