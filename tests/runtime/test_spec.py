"""The OCI config: Docker's default sandbox, and what --security=insecure lifts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.errors import BuildError
from builder.runtime.capabilities import DEFAULT_CAPABILITIES, all_capabilities, capability_mask
from builder.runtime.spec import MASKED_PATHS, READONLY_PATHS, Mount, RunSpec, build_config
from builder.runtime.users import ResolvedUser

LAMBDA = ResolvedUser(1000, 1000, (50,), "/home/lambda", "lambda")


def config(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "args": ["sh", "-c", "true"],
        "env": ["A=1"],
        "cwd": "/",
        "user": LAMBDA,
    }
    fields.update(changes)
    return build_config(
        RunSpec(**fields),
        Path("/rootfs"),
        hosts_file=Path("/b/hosts"),
        resolv_conf=Path("/b/resolv.conf"),
        hostname_file=Path("/b/hostname"),
        machine="x86_64",
    )


def test_default_capabilities_are_dockers_mask() -> None:
    assert capability_mask(DEFAULT_CAPABILITIES) == 0xA80425FB
    caps = config()["process"]["capabilities"]
    assert caps == {
        name: list(DEFAULT_CAPABILITIES) for name in ("bounding", "effective", "permitted")
    }


def test_process() -> None:
    process = config(cwd="/work", env=["A=1"])["process"]
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [50]}
    assert process["args"] == ["sh", "-c", "true"]
    assert process["cwd"] == "/work"
    assert process["terminal"] is False
    assert process["noNewPrivileges"] is True
    assert "rlimits" not in process  # as BuildKit: inherited from the builder
    assert process["env"] == [
        "A=1",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/home/lambda",
    ]
    assert config(env=["PATH=/x", "HOME=/h"])["process"]["env"] == ["PATH=/x", "HOME=/h"]


def test_namespaces_follow_the_network_mode() -> None:
    kinds = [n["type"] for n in config(network="host")["linux"]["namespaces"]]
    assert sorted(kinds) == ["ipc", "mount", "pid", "uts"]
    kinds = [n["type"] for n in config(network="none")["linux"]["namespaces"]]
    assert sorted(kinds) == ["ipc", "mount", "network", "pid", "uts"]


def test_default_sandbox() -> None:
    linux = config()["linux"]
    assert linux["maskedPaths"] == list(MASKED_PATHS)
    assert {"/proc/kcore", "/proc/keys", "/sys/firmware", "/sys/devices/virtual/powercap"} <= set(
        MASKED_PATHS
    )
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert linux["resources"]["devices"] == [{"allow": False, "access": "rwm"}]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"


def test_mounts() -> None:
    spec_mount = Mount("/cache", "bind", "/host/cache", ("rbind", "rw"))
    mounts = {m["destination"]: m for m in config(mounts=[spec_mount])["mounts"]}
    assert list(mounts) == [
        "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
        "/etc/resolv.conf", "/etc/hosts", "/etc/hostname", "/cache",
    ]  # fmt: skip
    assert mounts["/sys"]["options"] == ["nosuid", "noexec", "nodev", "ro"]
    assert mounts["/dev/pts"]["options"] == [
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
    ]  # fmt: skip
    assert "size=65536k" in mounts["/dev/shm"]["options"]
    assert mounts["/etc/hosts"] == {
        "destination": "/etc/hosts", "type": "bind", "source": "/b/hosts", "options": ["rbind", "ro"],
    }  # fmt: skip
    assert mounts["/cache"] == {
        "destination": "/cache", "type": "bind", "source": "/host/cache", "options": ["rbind", "rw"],
    }  # fmt: skip


def test_insecure_lifts_the_sandbox() -> None:
    result = config(insecure=True)
    assert result["process"]["capabilities"]["effective"] == list(all_capabilities())
    assert "CAP_SYS_ADMIN" in all_capabilities()
    assert "seccomp" not in result["linux"]
    assert "maskedPaths" not in result["linux"]
    assert "readonlyPaths" not in result["linux"]
    assert result["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sysfs = next(m for m in result["mounts"] if m["destination"] == "/sys")
    assert "rw" in sysfs["options"]


def test_root_and_hostname() -> None:
    result = config(readonly_rootfs=True, hostname="step")
    assert result["root"] == {"path": "/rootfs", "readonly": True}
    assert result["hostname"] == "step"
    assert result["ociVersion"] == "1.0.2"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"args": []}, "the command is empty"),
        ({"cwd": "relative"}, "must be an absolute path"),
        ({"network": "bridge"}, "unsupported network mode 'bridge'"),
        ({"env": ["NOEQUALS"]}, "is not NAME=value"),
        ({"args": ["a\0b"]}, "NUL byte"),
        ({"mounts": [Mount("rel", "bind", "/x")]}, "mount destination must be an absolute path"),
    ],
)
def test_bad_specs_are_clear_errors(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BuildError, match=message):
        config(**changes)


@pytest.mark.parametrize("hostname", ["", "two words", "x" * 65, "new\nline"])
def test_bad_hostnames(hostname: str) -> None:
    with pytest.raises(BuildError, match="invalid hostname"):
        config(hostname=hostname)
