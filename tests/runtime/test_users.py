"""USER resolution: Docker's forms, supplementary groups, and a hostile /etc."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.runtime.users import MAX_USER_FILE_BYTES, ResolvedUser, resolve_user

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1::/usr/sbin:/usr/sbin/nologin
lambda:x:1000:1000:lambda:/home/lambda:/bin/sh
twin:x:1000:2000:second entry for uid 1000:/home/twin:/bin/sh
broken:x:notanumber:0::/:/bin/sh
short
"""
GROUP = """\
root:x:0:
daemon:x:1:lambda
staff:x:50:lambda,other
lambda:x:1000:
audio:x:29:twin
"""


def write_etc(root: Path, passwd: str | None = PASSWD, group: str | None = GROUP) -> Path:
    (root / "etc").mkdir(parents=True, exist_ok=True)
    if passwd is not None:
        (root / "etc" / "passwd").write_text(passwd)
    if group is not None:
        (root / "etc" / "group").write_text(group)
    return root


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", ResolvedUser(0, 0, (), "/root", "root")),
        ("root", ResolvedUser(0, 0, (), "/root", "root")),
        ("lambda", ResolvedUser(1000, 1000, (1, 50), "/home/lambda", "lambda")),
        ("1000", ResolvedUser(1000, 1000, (1, 50), "/home/lambda", "lambda")),  # first line wins
        ("twin", ResolvedUser(1000, 2000, (29,), "/home/twin", "twin")),
        ("lambda:staff", ResolvedUser(1000, 50, (), "/home/lambda", "lambda")),
        ("lambda:4242", ResolvedUser(1000, 4242, (), "/home/lambda", "lambda")),
        ("1000:50", ResolvedUser(1000, 50, (), "/home/lambda", "lambda")),
        ("1000:staff", ResolvedUser(1000, 50, (), "/home/lambda", "lambda")),
        ("4242", ResolvedUser(4242, 0, (), "/", "")),
        ("4242:staff", ResolvedUser(4242, 50, (), "/", "")),
        ("4242:4343", ResolvedUser(4242, 4343, (), "/", "")),
        ("+1000:-0", ResolvedUser(1000, 0, (), "/home/lambda", "lambda")),  # Go's Atoi syntax
        ("daemon", ResolvedUser(1, 1, (), "/usr/sbin", "daemon")),
        (":staff", ResolvedUser(0, 50, (), "/root", "root")),
        ("lambda:", ResolvedUser(1000, 1000, (1, 50), "/home/lambda", "lambda")),
    ],
)
def test_docker_user_forms(tmp_path: Path, spec: str, expected: ResolvedUser) -> None:
    assert resolve_user(write_etc(tmp_path), spec) == expected


def test_unknown_user_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        resolve_user(write_etc(tmp_path), "nosuchuser")
    assert (
        caught.value.message == "unable to find user nosuchuser: no matching entries in passwd file"
    )


def test_unknown_group_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        resolve_user(write_etc(tmp_path), "lambda:nosuchgroup")
    assert (
        caught.value.message
        == "unable to find group nosuchgroup: no matching entries in group file"
    )


@pytest.mark.parametrize("spec", ["2147483648", "-1", "lambda:99999999999", "-5:0"])
def test_ids_out_of_range_are_rejected(tmp_path: Path, spec: str) -> None:
    with pytest.raises(BuildError, match="uids and gids must be in range 0-2147483647"):
        resolve_user(write_etc(tmp_path), spec)


def test_malformed_lines_never_match(tmp_path: Path) -> None:
    # Go would read "broken" as uid 0 and "short" as uid 0 (root); we skip them.
    for name in ("broken", "short"):
        with pytest.raises(BuildError, match="unable to find user"):
            resolve_user(write_etc(tmp_path), name)


def test_without_passwd_and_group_files_only_numbers_work(tmp_path: Path) -> None:
    root = write_etc(tmp_path, passwd=None, group=None)
    assert resolve_user(root, "") == ResolvedUser(0, 0, (), "/", "")
    assert resolve_user(root, "1000:1000") == ResolvedUser(1000, 1000, (), "/", "")
    with pytest.raises(BuildError, match="unable to find user lambda"):
        resolve_user(root, "lambda")
    with pytest.raises(BuildError, match="unable to find group staff"):
        resolve_user(root, "0:staff")


def test_passwd_symlink_to_host_shadow_resolves_inside_the_root(tmp_path: Path) -> None:
    root = write_etc(tmp_path / "root", passwd=None)
    # Absolute: /etc/shadow *of the root*, never the host's.
    (root / "etc" / "shadow").write_text("lambda:x:1234:1234::/in-root:/bin/sh\n")
    os.symlink("/etc/shadow", root / "etc" / "passwd")
    assert resolve_user(root, "lambda").uid == 1234
    # Relative, climbing out: `..` stops at the root.
    os.remove(root / "etc" / "passwd")
    os.symlink("../../../../../../../../etc/shadow", root / "etc" / "passwd")
    assert resolve_user(root, "lambda").home == "/in-root"


def test_passwd_symlink_escape_via_directory_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("lambda:x:666:666::/outside:/bin/sh\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(str(outside), root / "etc")  # host-absolute target: taken from the root
    with pytest.raises(BuildError, match="unable to find user lambda"):
        resolve_user(root, "lambda")


def test_passwd_symlink_loop_counts_as_missing(tmp_path: Path) -> None:
    root = write_etc(tmp_path, passwd=None)
    os.symlink("passwd", root / "etc" / "passwd")
    assert resolve_user(root, "7").uid == 7
    with pytest.raises(BuildError, match="unable to find user lambda"):
        resolve_user(root, "lambda")


def test_non_regular_passwd_is_not_read(tmp_path: Path) -> None:
    root = write_etc(tmp_path, passwd=None)
    os.mkfifo(root / "etc" / "passwd")  # opening it for reading would block forever
    with pytest.raises(BuildError, match="unable to find user lambda"):
        resolve_user(root, "lambda")


def test_oversized_passwd_is_an_error(tmp_path: Path) -> None:
    root = write_etc(tmp_path, passwd=None)
    with (root / "etc" / "passwd").open("wb") as f:
        f.write(b"lambda:x:1000:1000::/:/bin/sh\n")
        f.truncate(MAX_USER_FILE_BYTES + 1)
    with pytest.raises(BuildError, match="larger than 10 MiB"):
        resolve_user(root, "lambda")
