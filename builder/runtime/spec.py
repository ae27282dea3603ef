"""What to run and in which sandbox, and its OCI runtime-spec `config.json`.

The sandbox is Docker's default one, as BuildKit gives a RUN step: pid, ipc,
uts and mount namespaces, and a network namespace: for network "default" the
one `builder.runtime.network` made and serves (joined by path), for "none" a
new one with only `lo`, none for "host" (the host's). Docker's default
capabilities, no-new-privileges, the default seccomp profile of
`builder.runtime.seccomp`, Docker's masked and read-only /proc and /sys
paths, a device cgroup that denies everything but the runtime's default
devices (null, zero, full, random, urandom, tty, ptmx).

`insecure` is `RUN --security=insecure` (BuildKit's entitlement
security.insecure): every capability this process has, no seccomp, nothing
masked, /sys writable, every device allowed in the device cgroup.

No rlimits are set unless `--ulimit` asks, as in BuildKit (it clears
containerd's RLIMIT_NOFILE default): the container inherits the builder's.
`SandboxOptions` (`--ulimit`, `--shm-size`, `--cgroup-parent`) apply to
every RUN of a build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from builder.errors import BuildError
from builder.runtime.capabilities import DEFAULT_CAPABILITIES, all_capabilities
from builder.runtime.sandbox import SandboxOptions
from builder.runtime.seccomp import default_profile
from builder.runtime.users import ResolvedUser

OCI_VERSION = "1.0.2"
DEFAULT_HOSTNAME = "pybuild"
MAX_HOSTNAME = 64  # the kernel's limit (HOST_NAME_MAX)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: "default": its own namespace with outbound access (`builder.runtime.network`)
NetworkMode = Literal["default", "host", "none"]
NETWORK_MODES: tuple[str, ...] = ("default", "host", "none")

# Docker's masked paths (moby `oci.DefaultLinuxSpec` and daemon defaults, Docker 25+):
# runc hides each that exists under /dev/null (files) or an empty read-only tmpfs (dirs).
MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


@dataclass(frozen=True)
class Mount:
    """One OCI mount: `RUN --mount` binds, caches, tmpfs, secrets."""

    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunSpec:
    """One process to run: command, environment, identity, sandbox options."""

    args: tuple[str, ...] | list[str]
    env: tuple[str, ...] | list[str]
    cwd: str
    user: ResolvedUser
    hostname: str = DEFAULT_HOSTNAME
    network: NetworkMode = "host"
    mounts: tuple[Mount, ...] | list[Mount] = field(default_factory=tuple)
    insecure: bool = False
    readonly_rootfs: bool = False
    # BuildKit lets RUN gain privileges (setuid binaries such as sudo work);
    # pybuild's sandbox sets no_new_privs unless asked otherwise.
    no_new_privileges: bool = True
    #: the build's `--add-host`, `--ulimit`, `--shm-size`, `--cgroup-parent`
    sandbox: SandboxOptions = field(default_factory=SandboxOptions)
    #: a pseudo-terminal for the process (`pybuild run -t`; the runtime needs a console socket)
    terminal: bool = False
    #: (rows, columns) of that terminal at start
    console_size: tuple[int, int] | None = None


def _check(spec: RunSpec) -> None:
    if not spec.args:
        raise BuildError("nothing to run: the command is empty")
    if not spec.cwd.startswith("/"):
        raise BuildError(f"the working directory must be an absolute path, got {spec.cwd!r}")
    if spec.network not in NETWORK_MODES:
        raise BuildError(
            f"unsupported network mode {spec.network!r}: use one of {', '.join(NETWORK_MODES)}"
        )
    if (
        not 0 < len(spec.hostname) <= MAX_HOSTNAME
        or not spec.hostname.isprintable()
        or any(c.isspace() for c in spec.hostname)
    ):
        raise BuildError(
            f"invalid hostname {spec.hostname!r}: "
            f"use 1 to {MAX_HOSTNAME} printable characters without spaces"
        )
    for item in spec.env:
        if "=" not in item or item.startswith("="):
            raise BuildError(f"environment entry {item!r} is not NAME=value")
    texts = [*spec.args, *spec.env, spec.cwd, spec.hostname]
    for mount in spec.mounts:
        if not mount.destination.startswith("/"):
            raise BuildError(
                f"mount destination must be an absolute path, got {mount.destination!r}"
            )
        texts += [mount.destination, mount.source, mount.type, *mount.options]
    if any("\0" in text for text in texts):
        raise BuildError("a command, environment entry, path or hostname contains a NUL byte")


def _environment(spec: RunSpec) -> list[str]:
    """The process environment; PATH and HOME get defaults when the image sets none."""
    env = list(spec.env)
    names = {item.split("=", 1)[0] for item in env}
    if "PATH" not in names:
        env.append(f"PATH={DEFAULT_PATH}")
    if "HOME" not in names:
        env.append(f"HOME={spec.user.home or '/'}")
    return env


def _mounts(spec: RunSpec, hosts_file: Path, resolv_conf: Path, hostname_file: Path) -> list[dict]:
    sysfs_access = "rw" if spec.insecure else "ro"
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", spec.sandbox.shm_option()]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", sysfs_access]},
    ]  # fmt: skip
    # Read-only, as BuildKit binds them: a step cannot change the builder's view.
    for destination, source in (
        ("/etc/resolv.conf", resolv_conf),
        ("/etc/hosts", hosts_file),
        ("/etc/hostname", hostname_file),
    ):
        mounts.append(
            {"destination": destination, "type": "bind", "source": str(source),
             "options": ["rbind", "ro"]}
        )  # fmt: skip
    for mount in spec.mounts:
        mounts.append(
            {"destination": mount.destination, "type": mount.type, "source": mount.source,
             "options": list(mount.options)}
        )  # fmt: skip
    return mounts


def build_config(
    spec: RunSpec,
    rootfs: Path,
    *,
    hosts_file: Path,
    resolv_conf: Path,
    hostname_file: Path,
    machine: str | None = None,
    container_id: str = "pybuild",
    network_namespace: Path | None = None,
) -> dict[str, Any]:
    """The OCI `config.json` (as a dict) that runs `spec` on `rootfs`.

    The three files are host-side files bound read-only over /etc/hosts,
    /etc/resolv.conf and /etc/hostname. `machine` picks the seccomp
    architectures (default: this host's); `container_id` names the cgroup
    made under `--cgroup-parent`. `network_namespace` is the namespace file
    network "default" joins (required then).
    """
    _check(spec)
    if spec.network == "default" and network_namespace is None:
        raise BuildError("network default needs its network namespace (none was made)")
    capabilities = list(all_capabilities() if spec.insecure else DEFAULT_CAPABILITIES)
    namespaces = [{"type": kind} for kind in ("pid", "ipc", "uts", "mount")]
    if spec.network == "none":
        namespaces.append({"type": "network"})
    elif spec.network == "default":
        namespaces.append({"type": "network", "path": str(network_namespace)})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        # Deny all, then the runtime adds its default devices; insecure allows all.
        "resources": {"devices": [{"allow": spec.insecure, "access": "rwm"}]},
    }
    if not spec.insecure:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        linux["seccomp"] = default_profile(machine)
    cgroups_path = spec.sandbox.cgroups_path(container_id)
    if cgroups_path is not None:
        linux["cgroupsPath"] = cgroups_path
    process: dict[str, Any] = {}
    if spec.terminal and spec.console_size is not None:
        rows, columns = spec.console_size
        process["consoleSize"] = {"height": rows, "width": columns}
    if spec.sandbox.ulimits:
        process["rlimits"] = [ulimit.rlimit() for ulimit in spec.sandbox.ulimits]
    user = spec.user
    return {
        "ociVersion": OCI_VERSION,
        "root": {"path": str(rootfs), "readonly": spec.readonly_rootfs},
        "hostname": spec.hostname,
        "process": {
            "terminal": spec.terminal,
            "user": {
                "uid": user.uid,
                "gid": user.gid,
                "additionalGids": list(user.additional_gids),
            },
            "args": list(spec.args),
            "env": _environment(spec),
            "cwd": spec.cwd,
            # Inheritable and ambient stay empty, as in Docker since CVE-2022-24769.
            "capabilities": {
                "bounding": capabilities,
                "effective": capabilities,
                "permitted": capabilities,
            },
            "noNewPrivileges": spec.no_new_privileges,
            **process,
        },
        "mounts": _mounts(spec, hosts_file, resolv_conf, hostname_file),
        "linux": linux,
    }
