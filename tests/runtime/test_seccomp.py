"""The default seccomp profile: Docker's blocked syscalls and argument rules, as data."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from builder.runtime.seccomp import BLOCKED_SYSCALLS, ENOSYS, EPERM, default_profile

PROFILE = default_profile("x86_64")

# docs.docker.com "Seccomp security profiles for Docker": significant syscalls
# blocked by the default profile (clone and personality have argument rules).
DOCKER_DOCS_BLOCKED = [
    "acct", "add_key", "bpf", "clock_settime", "create_module", "delete_module",
    "finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl",
    "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
    "move_pages", "nfsservctl", "open_by_handle_at", "perf_event_open", "pivot_root",
    "query_module", "quotactl", "reboot", "request_key", "set_mempolicy", "setns",
    "settimeofday", "stime", "swapon", "swapoff", "sysfs", "_sysctl", "umount", "umount2",
    "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
]  # fmt: skip
# In that table but allowed by the current profile: clock_adjtime (the kernel
# asks CAP_SYS_TIME for changes); ptrace and process_vm_* on kernels >= 4.8.
ALLOWED_SINCE = ["clock_adjtime", "ptrace", "process_vm_readv", "process_vm_writev"]
PERSONALITY_ALLOWED = {0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF}


def errno_for(name: str, arg0: int = 0, profile: dict[str, Any] = PROFILE) -> int | None:
    """What the filter answers for syscall `name` with first argument `arg0` (None: allowed)."""
    for rule in profile["syscalls"]:
        if name not in rule["names"]:
            continue
        matched = True
        for arg in rule.get("args", []):
            assert arg["index"] == 0
            if arg["op"] == "SCMP_CMP_MASKED_EQ":
                matched &= (arg0 & arg["value"]) == arg["valueTwo"]
            elif arg["op"] == "SCMP_CMP_EQ":
                matched &= arg0 == arg["value"]
            else:
                raise AssertionError(arg["op"])
        if matched:
            assert rule["action"] == "SCMP_ACT_ERRNO"
            return int(rule["errnoRet"])
    return None


def test_default_action_allows_and_architectures_follow_the_host() -> None:
    assert PROFILE["defaultAction"] == "SCMP_ACT_ALLOW"
    assert PROFILE["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert default_profile("aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert default_profile("unknown-machine")["architectures"] == []


def test_docker_documented_syscalls_are_blocked() -> None:
    for name in DOCKER_DOCS_BLOCKED:
        assert errno_for(name) == EPERM, name
    for name in [*ALLOWED_SINCE, "read", "chroot", "name_to_handle_at", "adjtimex"]:
        assert errno_for(name) is None, name


def test_mount_api_keyring_and_io_uring_are_blocked() -> None:
    for name in ["fsopen", "fsmount", "move_mount", "open_tree", "mount_setattr",
                 "keyctl", "io_uring_setup", "clock_settime64"]:  # fmt: skip
        assert errno_for(name) == EPERM, name


def test_each_syscall_listed_once() -> None:
    names = [name for group in BLOCKED_SYSCALLS.values() for name in group]
    assert len(names) == len(set(names))


def test_clone3_is_enosys_so_libc_falls_back_to_clone() -> None:
    assert errno_for("clone3") == ENOSYS


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_clone_with_a_namespace_flag_is_denied(flags: int) -> None:
    expected = EPERM if flags & 0x7E020000 else None
    assert errno_for("clone", flags) == expected


@given(
    st.one_of(
        st.integers(min_value=0, max_value=2**32 - 1), st.sampled_from(sorted(PERSONALITY_ALLOWED))
    )
)
def test_personality_allows_exactly_dockers_values(value: int) -> None:
    expected = None if value in PERSONALITY_ALLOWED else EPERM
    assert errno_for("personality", value) == expected


def test_personality_edge_values() -> None:
    for value in [0x6, 0x40000, 0x10000000, 0x10000008, 0xFFFFFFFE, 0x80000000, 0x7FFFFFFF]:
        assert errno_for("personality", value) == EPERM, hex(value)


def test_vsock_and_alg_sockets_are_denied() -> None:
    assert errno_for("socket", 40) == EPERM  # AF_VSOCK
    assert errno_for("socket", 38) == EPERM  # AF_ALG
    for family in (1, 2, 10, 16, 17):  # unix, inet, inet6, netlink, packet
        assert errno_for("socket", family) is None
