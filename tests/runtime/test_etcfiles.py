"""/etc/hosts, /etc/resolv.conf and /etc/hostname as a container sees them."""

from __future__ import annotations

from pathlib import Path

from builder.runtime.etcfiles import hostname_file, hosts_file, resolv_conf


def test_hosts_and_hostname() -> None:
    assert (
        hosts_file("pybuild")
        == "127.0.0.1\tlocalhost pybuild\n::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    assert hostname_file("pybuild") == "pybuild\n"


def test_resolv_conf_is_the_hosts(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("search example.org\nnameserver 192.0.2.1\n")
    assert resolv_conf(host, tmp_path / "missing") == "search example.org\nnameserver 192.0.2.1\n"


def test_systemd_resolved_stub_is_replaced_by_its_upstream_list(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text(
        "# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\n"
    )
    upstream = tmp_path / "upstream.conf"
    upstream.write_text("nameserver 198.51.100.7\n")
    assert resolv_conf(host, upstream) == "nameserver 198.51.100.7\n"
    # Without the upstream file the stub is all there is.
    assert "127.0.0.53" in resolv_conf(host, tmp_path / "missing")


def test_missing_host_resolv_conf_gives_an_empty_one(tmp_path: Path) -> None:
    assert resolv_conf(tmp_path / "missing", tmp_path / "missing-too") == ""
