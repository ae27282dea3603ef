"""builder.runtime.userns: subordinate ranges, id maps, the config a rootless runc gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import UsageError
from builder.runtime import userns
from builder.runtime.spec import RunSpec, build_config
from builder.runtime.users import ResolvedUser

SUBUID = """\
# comment
alice:100000:65536
1001:300000:70000
bob:x:65536
carol:400000:0
carol:500000:65536
"""


def test_parse_ranges_by_name_or_uid_first_valid_line() -> None:
    assert userns.parse_ranges(SUBUID, ("alice", "1000")) == userns.IdRange(100000, 65536)
    assert userns.parse_ranges(SUBUID, ("dave", "1001")) == userns.IdRange(300000, 70000)
    assert userns.parse_ranges(SUBUID, ("bob", "1002")) is None  # malformed start
    assert userns.parse_ranges(SUBUID, ("carol", "1003")) == userns.IdRange(500000, 65536)
    assert userns.parse_ranges("", ("alice",)) is None


def test_free_start_is_above_every_range() -> None:
    assert userns.free_start([SUBUID, "zed:900000:10\n"]) == 900010
    assert userns.free_start([]) == 100000


def test_map_arguments_map_root_to_the_user_and_the_rest_to_the_range() -> None:
    mapping = userns.Mapping(
        1000, 1001, userns.IdRange(100000, 65536), userns.IdRange(200000, 65536)
    )
    uid_map, gid_map = userns.map_arguments(mapping)
    assert uid_map == ["0", "1000", "1", "1", "100000", "65536"]
    assert gid_map == ["0", "1001", "1", "1", "200000", "65536"]


def test_find_mapping_without_ranges_says_what_to_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("someone:100000:65536\n")
    subgid.write_text("")
    monkeypatch.setattr(userns, "SUBUID", subuid)
    monkeypatch.setattr(userns, "SUBGID", subgid)
    with pytest.raises(UsageError) as caught:
        userns.find_mapping(uid=4242, gid=4242)
    error = caught.value
    assert "none in" in error.message and str(subuid) in error.message
    assert error.hint is not None
    assert f"4242:165536:65536 >> {subuid}" in error.hint
    assert f"4242:165536:65536 >> {subgid}" in error.hint
    assert "apt-get install uidmap" in error.hint


def test_find_mapping_refuses_a_small_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("subuid", "subgid"):
        (tmp_path / name).write_text("4242:100000:1000\n")
    monkeypatch.setattr(userns, "SUBUID", tmp_path / "subuid")
    monkeypatch.setattr(userns, "SUBGID", tmp_path / "subgid")
    with pytest.raises(UsageError, match="has 1000 ids"):
        userns.find_mapping(uid=4242, gid=4242)


def _config(tmp_path: Path, network: str, **sandbox: object) -> dict:
    spec = RunSpec(args=["true"], env=[], cwd="/", user=ResolvedUser(0, 0, (), "/root"),
                   network=network)  # type: ignore[arg-type]  # fmt: skip
    files = {name: tmp_path / name for name in ("hosts", "resolv", "hostname")}
    return build_config(spec, tmp_path, hosts_file=files["hosts"], resolv_conf=files["resolv"],
                        hostname_file=files["hostname"])  # fmt: skip


def test_adapt_config_host_network_binds_sys_and_drops_cgroup_settings(tmp_path: Path) -> None:
    config = _config(tmp_path, "host")
    userns.adapt_config(config)
    assert "resources" not in config["linux"]
    sys_mount = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert sys_mount["type"] == "bind" and sys_mount["source"] == "/sys"
    assert "ro" in sys_mount["options"] and "rbind" in sys_mount["options"]


def test_adapt_config_own_network_keeps_sysfs(tmp_path: Path) -> None:
    config = _config(tmp_path, "none")
    userns.adapt_config(config)
    sys_mount = next(m for m in config["mounts"] if m["destination"] == "/sys")
    assert sys_mount["type"] == "sysfs"


def test_adapt_config_refuses_a_cgroup_parent(tmp_path: Path) -> None:
    config = _config(tmp_path, "none")
    config["linux"]["cgroupsPath"] = "/pybuild/x"
    with pytest.raises(UsageError, match="--cgroup-parent needs root"):
        userns.adapt_config(config)


def test_this_test_process_is_in_the_initial_user_namespace() -> None:
    assert not userns.in_user_namespace()
