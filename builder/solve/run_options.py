"""Parsing `--add-host`, `--ulimit`, `--shm-size` and `--cgroup-parent` as docker/buildx do.

Each bad value is a `UsageError` with Docker's wording, so the command
exits 2 as `docker build` does for a bad flag value.
"""

from __future__ import annotations

import ipaddress
import re

from builder.errors import UsageError
from builder.runtime.sandbox import (
    DEFAULT_SHM_BYTES,
    ULIMIT_NAMES,
    HostEntry,
    SandboxOptions,
    Ulimit,
)

HOST_GATEWAY = "host-gateway"  #: Docker's special `--add-host` value
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_INT64_MAX = (1 << 63) - 1


def _flag_error(flag: str, value: str, reason: str, hint: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "{flag}" flag: {reason}', hint=hint)


def parse_add_host(value: str) -> list[HostEntry]:
    """`NAME:IP` or `NAME=IP` (IPv6 in brackets or not); comma-separated, as buildx's list flag."""
    entries = []
    for item in value.split(","):
        name, eq, ip = item.partition("=")
        if not eq:
            name, _, ip = item.partition(":")
        hint = "write --add-host NAME:IP (or NAME=IP), e.g. --add-host db:10.0.0.5"
        if not name or ":" in name or not ip:
            raise _flag_error("--add-host", item, f"bad format for add-host: {item!r}", hint)
        if ip == HOST_GATEWAY:
            raise UsageError(
                f"--add-host {item}: host-gateway is not supported",
                hint="RUN steps share the host's network (--network host): "
                "use --add-host NAME:127.0.0.1 to reach the host",
            )
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise _flag_error(
                "--add-host", item, f"invalid IP address in add-host: {ip!r}", hint
            ) from None
        entries.append(HostEntry(name, str(address)))
    return entries


def _int64(text: str, flag: str, value: str) -> int:
    try:
        number = int(text, 10)
    except ValueError:
        number = None
    if number is None or not -_INT64_MAX - 1 <= number <= _INT64_MAX or text.strip() != text:
        raise _flag_error(
            flag, value, f'strconv.ParseInt: parsing "{text}": invalid syntax',
            "write --ulimit TYPE=SOFT[:HARD], e.g. --ulimit nofile=1024:2048",
        )  # fmt: skip
    return number


def parse_ulimit(value: str) -> Ulimit:
    """`TYPE=SOFT[:HARD]` with Docker's names (nofile, nproc, core...); -1 is unlimited."""
    hint = "write --ulimit TYPE=SOFT[:HARD], e.g. --ulimit nofile=1024:2048"
    name, eq, limits = value.partition("=")
    if not eq:
        raise _flag_error("--ulimit", value, f"invalid ulimit argument: {value}", hint)
    if name not in ULIMIT_NAMES:
        known = ", ".join(sorted(ULIMIT_NAMES))
        raise _flag_error("--ulimit", value, f"invalid ulimit type: {name}", f"one of {known}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise _flag_error(
            "--ulimit", value,
            f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`",
            hint,
        )  # fmt: skip
    soft = _int64(parts[0], "--ulimit", value)
    hard = _int64(parts[1], "--ulimit", value) if len(parts) == 2 else soft
    if hard != -1 and soft > hard:
        raise _flag_error(
            "--ulimit", value,
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}", hint,
        )  # fmt: skip
    return Ulimit(name, soft, hard)


def parse_size(value: str, flag: str = "--shm-size") -> int:
    """Docker's memory sizes (`64m`, `1g`, `1024`, `2GiB`): bytes, units of 1024."""
    match = _SIZE.match(value.strip())
    if not match:
        raise _flag_error(
            flag, value, f"invalid size: '{value}'", f"write a size such as 64m or 1g: {flag} 128m"
        )
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    return int(number * _UNITS[unit])


def sandbox_options(
    add_hosts: list[str],
    ulimits: list[str],
    shm_size: str | None,
    cgroup_parent: str | None,
) -> SandboxOptions:
    """The RUN containers' options from the command-line strings; UsageError when one is bad."""
    hosts = [entry for value in add_hosts for entry in parse_add_host(value)]
    limits: dict[str, Ulimit] = {}
    for value in ulimits:
        ulimit = parse_ulimit(value)
        limits[ulimit.name] = ulimit  # the last one wins, as in docker
    size = parse_size(shm_size) if shm_size else 0
    if cgroup_parent is not None and (
        "\0" in cgroup_parent or ".." in cgroup_parent.split("/")
    ):
        raise UsageError(
            f"--cgroup-parent {cgroup_parent!r}: not a cgroup path",
            hint="give a path such as /ci/builds",
        )
    return SandboxOptions(
        extra_hosts=tuple(hosts),
        ulimits=tuple(limits.values()),
        shm_size=size or DEFAULT_SHM_BYTES,  # 0 means the default, as in docker
        cgroup_parent=cgroup_parent or None,
    )
