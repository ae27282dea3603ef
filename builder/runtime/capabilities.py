"""Linux capabilities: Docker's default set, and "all" for RUN --security=insecure."""

from __future__ import annotations

from pathlib import Path

# Docker's default set (moby `oci/caps.DefaultCapabilities`, the same list as
# containerd's default spec that BuildKit starts from). Mask 0x00000000a80425fb.
DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

# Every capability by its number (linux/capability.h), 0 .. CAP_LAST_CAP (40 in Linux 5.9+).
CAPABILITIES_BY_NUMBER: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


def capability_mask(names: tuple[str, ...] | list[str]) -> int:
    """The kernel bit mask of a set of capability names (as in /proc/PID/status)."""
    return sum(1 << CAPABILITIES_BY_NUMBER.index(name) for name in set(names))


def bounding_set_of_this_process(status: Path = Path("/proc/self/status")) -> int:
    """CapBnd of the calling process: no container can get more than this."""
    for line in status.read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16)
    return capability_mask(list(CAPABILITIES_BY_NUMBER))


def all_capabilities() -> tuple[str, ...]:
    """Every capability this process can hand on, like Docker's `--privileged`.

    Docker takes the capabilities of its own bounding set (moby
    `caps.GetAllCapabilities`); asking for one outside it makes the runtime fail.
    """
    bounding = bounding_set_of_this_process()
    return tuple(name for bit, name in enumerate(CAPABILITIES_BY_NUMBER) if bounding >> bit & 1)
