"""pybuild's default seccomp profile: Docker's default, written as a denylist.

Docker's profile (moby/profiles `seccomp/default.json`) is an allowlist with
rules that depend on the container's capabilities. For a container with
Docker's default capability set it comes down to: everything is allowed except
the syscalls below. We write that as data: default action ALLOW, EPERM for the
listed syscalls, and argument rules for clone, clone3, personality and socket.
Syscall names a runtime's libseccomp does not know for an architecture are
skipped by runc and crun, so one list serves every architecture.

Checked against moby/profiles `seccomp/default_linux.go` (allowlist, the
CAP_* gated groups, the clone/clone3/personality/socket rules) and the
"Significant syscalls blocked by the default profile" table of
docs.docker.com "Seccomp security profiles for Docker".
"""

from __future__ import annotations

import platform
from typing import Any

EPERM = 1
ENOSYS = 38

# Each group: why it is blocked. Docker blocks all of them for a container
# with its default capabilities (they are allowed only with the capability
# named, which the default set does not have, or not at all).
BLOCKED_SYSCALLS: dict[str, tuple[str, ...]] = {
    # Kernel modules (CAP_SYS_MODULE); the obsolete ones are blocked outright.
    "kernel modules": (
        "init_module",
        "finit_module",
        "delete_module",
        "create_module",
        "get_kernel_syms",
        "query_module",
    ),
    # Loading a new kernel, rebooting the host (CAP_SYS_BOOT).
    "kexec and reboot": ("kexec_load", "kexec_file_load", "reboot"),
    # Swap is host-wide (CAP_SYS_ADMIN).
    "swap": ("swapon", "swapoff"),
    # Mounts, old and new mount API, namespaces (CAP_SYS_ADMIN). pivot_root is
    # not on Docker's allowlist at all. clone/clone3 are below, with arguments.
    "mounts and namespaces": (
        "mount",
        "umount",
        "umount2",
        "pivot_root",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "open_tree_attr",
        "mount_setattr",
        "setns",
        "unshare",
    ),
    # The kernel keyring is not namespaced.
    "keyring": ("add_key", "keyctl", "request_key"),
    # Tracing and profiling that can leak host information
    # (CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON).
    "bpf and tracing": ("bpf", "perf_event_open", "lookup_dcookie", "fanotify_init"),
    # Process inspection beyond ptrace (CAP_SYS_PTRACE). ptrace,
    # process_vm_readv and process_vm_writev are allowed on kernels >= 4.8.
    "process inspection": ("kcmp", "pidfd_getfd", "process_madvise"),
    # NUMA and memory policy (CAP_SYS_NICE), and page migration.
    "memory policy": (
        "get_mempolicy",
        "set_mempolicy",
        "set_mempolicy_home_node",
        "mbind",
        "move_pages",
        "migrate_pages",
    ),
    # Userspace page-fault handling: a classic exploit primitive.
    "userfaultfd": ("userfaultfd",),
    # io_uring: not on Docker's allowlist since Docker 25.
    "io_uring": ("io_uring_setup", "io_uring_enter", "io_uring_register"),
    # Accounting and quotas could lift the container's own limits
    # (CAP_SYS_PACCT, CAP_SYS_ADMIN).
    "accounting and quotas": ("acct", "quotactl", "quotactl_fd"),
    # Time is not namespaced (CAP_SYS_TIME). adjtimex and clock_adjtime stay
    # allowed as in Docker: the kernel itself asks CAP_SYS_TIME for changes.
    "clock": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    # Host and domain name (CAP_SYS_ADMIN), the kernel log (CAP_SYSLOG),
    # hanging up the terminal (CAP_SYS_TTY_CONFIG).
    "host administration": ("sethostname", "setdomainname", "syslog", "vhangup"),
    # I/O port privilege levels (CAP_SYS_RAWIO).
    "io ports": ("iopl", "ioperm"),
    # open_by_handle_at: the "shocker" breakout (CAP_DAC_READ_SEARCH).
    # name_to_handle_at stays allowed, as in Docker.
    "file handles": ("open_by_handle_at",),
    # Linux security module attributes (CAP_SYS_ADMIN in Docker's profile).
    "lsm": ("lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"),
    # Obsolete or never-implemented syscalls.
    "obsolete": (
        "nfsservctl",
        "_sysctl",
        "sysfs",
        "ustat",
        "uselib",
        "vm86",
        "vm86old",
        "afs_syscall",
        "getpmsg",
        "putpmsg",
        "security",
        "tuxcall",
        "vserver",
    ),
}

# clone(2) flags that create namespaces; Docker allows clone only when none is
# set: (flags & mask) == 0, mask 0x7e020000.
CLONE_NAMESPACE_FLAGS: dict[str, int] = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}

# personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26,
# UNAME26|PER_LINUX32, and 0xffffffff (the query).
PERSONALITY_ALLOWED_BITS = 0x0008 | 0x20000
PERSONALITY_QUERY = 0xFFFFFFFF

# socket(2) address families Docker blocks that a kernel still offers:
# AF_VSOCK reaches the host and other VMs across network namespaces, AF_ALG is
# kernel-crypto attack surface that containers have no use for.
BLOCKED_SOCKET_FAMILIES: dict[str, int] = {"AF_ALG": 38, "AF_VSOCK": 40}

# Architectures the filter covers, by the host's machine name: the native one
# and the compat ABIs it can run, so a 32-bit binary cannot dodge the filter.
ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
    "ppc64le": ("SCMP_ARCH_PPC64LE",),
    "s390x": ("SCMP_ARCH_S390X", "SCMP_ARCH_S390"),
    "riscv64": ("SCMP_ARCH_RISCV64",),
}


def _deny(
    names: list[str], errno: int = EPERM, arg0: dict[str, int | str] | None = None
) -> dict[str, Any]:
    """An SCMP_ACT_ERRNO rule, optionally only when argument 0 matches `arg0`."""
    rule: dict[str, Any] = {"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno}
    if arg0 is not None:
        rule["args"] = [{"index": 0, "valueTwo": 0, **arg0}]
    return rule


def _masked(mask: int, value: int) -> dict[str, int | str]:
    """Argument 0 matches when (arg0 & mask) == value."""
    return {"value": mask, "valueTwo": value, "op": "SCMP_CMP_MASKED_EQ"}


def _personality_rules() -> list[dict[str, Any]]:
    """Deny personality(2) unless its argument is one Docker allows.

    A rule compares each argument once (runc turns several comparisons of one
    argument into alternatives), so "not one of these values" is spelt with
    bit tests: a value is denied when it has a bit outside PER_LINUX32|UNAME26
    while bit 28 is clear, or bit 28 set and any other bit clear. Only
    0xffffffff, the query, has bit 28 set and no bit clear.
    """
    query_bit = 1 << 28
    rules = []
    for bit in range(32):
        flag = 1 << bit
        if flag & (PERSONALITY_ALLOWED_BITS | query_bit):
            continue
        rules.append(_deny(["personality"], arg0=_masked(flag | query_bit, flag)))
    for bit in range(32):
        flag = 1 << bit
        if flag == query_bit:
            continue
        rules.append(_deny(["personality"], arg0=_masked(flag | query_bit, query_bit)))
    return rules


def default_profile(machine: str | None = None) -> dict[str, Any]:
    """The `linux.seccomp` object of an OCI config for the given (default: this) machine."""
    machine = machine or platform.machine()
    syscalls: list[dict[str, Any]] = [
        _deny([name for group in BLOCKED_SYSCALLS.values() for name in group]),
    ]
    # clone with any namespace flag: EPERM (x86, arm: flags are argument 0).
    for flag in CLONE_NAMESPACE_FLAGS.values():
        syscalls.append(_deny(["clone"], arg0=_masked(flag, flag)))
    # clone3 passes its flags in memory, out of seccomp's sight: ENOSYS makes
    # the C library fall back to clone, where the rule above applies.
    syscalls.append(_deny(["clone3"], errno=ENOSYS))
    syscalls.extend(_personality_rules())
    for family in BLOCKED_SOCKET_FAMILIES.values():
        syscalls.append(_deny(["socket"], arg0={"value": family, "op": "SCMP_CMP_EQ"}))
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": list(ARCHITECTURES.get(machine, ())),
        "syscalls": syscalls,
    }
