"""Build-wide options of RUN containers: `--add-host`, `--ulimit`, `--shm-size`, `--cgroup-parent`.

They are already parsed (`builder.solve.run_options`); here they become
`/etc/hosts` lines and parts of the OCI `config.json`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SHM_BYTES = 64 << 20  #: Docker's and BuildKit's /dev/shm size
RLIM_INFINITY = (1 << 64) - 1  #: `-1` in a `--ulimit` value

#: Docker's `--ulimit` names (go-units) and the kernel resources they set.
ULIMIT_NAMES: dict[str, str] = {
    "core": "RLIMIT_CORE",
    "cpu": "RLIMIT_CPU",
    "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS",
    "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
}


@dataclass(frozen=True)
class HostEntry:
    """One `--add-host NAME:IP` line of /etc/hosts."""

    name: str
    ip: str


@dataclass(frozen=True)
class Ulimit:
    """One `--ulimit NAME=SOFT[:HARD]`; -1 is unlimited."""

    name: str
    soft: int
    hard: int

    def rlimit(self) -> dict[str, object]:
        """The runtime-spec `process.rlimits` entry."""
        return {
            "type": ULIMIT_NAMES[self.name],
            "soft": RLIM_INFINITY if self.soft == -1 else self.soft,
            "hard": RLIM_INFINITY if self.hard == -1 else self.hard,
        }


@dataclass(frozen=True)
class SandboxOptions:
    """What every RUN container of a build gets, beyond Docker's defaults."""

    extra_hosts: tuple[HostEntry, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    shm_size: int = DEFAULT_SHM_BYTES  #: bytes of the /dev/shm tmpfs
    cgroup_parent: str | None = None  #: the containers' cgroups go below this one

    def shm_option(self) -> str:
        """The /dev/shm tmpfs's `size=` option (in k, as BuildKit writes it)."""
        size = self.shm_size
        return f"size={size // 1024}k" if size % 1024 == 0 else f"size={size}"

    def hosts_lines(self) -> str:
        """The `/etc/hosts` lines after the defaults, as BuildKit writes them (`IP\\tNAME`)."""
        return "".join(f"{entry.ip}\t{entry.name}\n" for entry in self.extra_hosts)

    def cache_inputs(self) -> dict[str, str]:
        """What a RUN step's cache key takes from these options (empty for the defaults)."""
        inputs: dict[str, str] = {}
        if self.extra_hosts:
            inputs["hosts"] = ",".join(f"{e.name}={e.ip}" for e in self.extra_hosts)
        if self.ulimits:
            inputs["ulimits"] = ",".join(f"{u.name}={u.soft}:{u.hard}" for u in self.ulimits)
        if self.shm_size != DEFAULT_SHM_BYTES:
            inputs["shm-size"] = str(self.shm_size)
        if self.cgroup_parent:
            inputs["cgroup-parent"] = self.cgroup_parent
        return inputs

    def cgroups_path(self, container_id: str) -> str | None:
        """runc's `linux.cgroupsPath` under `--cgroup-parent` (cgroupfs form), or None."""
        if not self.cgroup_parent:
            return None
        return "/" + "/".join(p for p in (*self.cgroup_parent.split("/"), container_id) if p)
