"""The contents of /etc/hosts, /etc/resolv.conf and /etc/hostname inside a container."""

from __future__ import annotations

from pathlib import Path

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
# systemd-resolved: /etc/resolv.conf points at its stub listener 127.0.0.53,
# which a container cannot reach; this file lists the real upstream servers.
SYSTEMD_RESOLVED_RESOLV_CONF = Path("/run/systemd/resolve/resolv.conf")
SYSTEMD_RESOLVED_STUB = "127.0.0.53"
MAX_RESOLV_CONF_BYTES = 1 << 20


def hosts_file(hostname: str) -> str:
    """localhost for IPv4 and IPv6, and the container's own name (as BuildKit writes it)."""
    return f"127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def hostname_file(hostname: str) -> str:
    return f"{hostname}\n"


def _nameservers(text: str) -> list[str]:
    servers = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            servers.append(fields[1])
    return servers


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return f.read(MAX_RESOLV_CONF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def resolv_conf(
    host_file: Path = HOST_RESOLV_CONF, resolved_file: Path = SYSTEMD_RESOLVED_RESOLV_CONF
) -> str:
    """The host's resolv.conf; systemd-resolved's upstream list when the host uses its stub.

    Docker makes the same choice (libnetwork `resolvconf.Path`). An unreadable
    host file gives an empty one: the container then has no DNS, as the host.
    """
    text = _read(host_file)
    if text is None:
        return ""
    if _nameservers(text) == [SYSTEMD_RESOLVED_STUB]:
        upstream = _read(resolved_file)
        if upstream is not None:
            return upstream
    return text


def private_resolv_conf(
    nameserver: str,
    host_file: Path = HOST_RESOLV_CONF,
    resolved_file: Path = SYSTEMD_RESOLVED_RESOLV_CONF,
) -> str:
    """resolv.conf for a container on its own network: only the stack's DNS forwarder.

    The host's nameservers may be on its loopback, which the container cannot
    reach; the forwarder relays to them. The host's `search`, `domain` and
    `options` lines are kept, after the nameserver line, as Docker writes a
    bridge network's file.
    """
    kept = [
        line.strip()
        for line in resolv_conf(host_file, resolved_file).splitlines()
        if line.split()[:1] in (["search"], ["domain"], ["options"])
    ]
    return "".join(f"{line}\n" for line in [f"nameserver {nameserver}", *kept])
