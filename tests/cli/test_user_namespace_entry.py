"""Which commands of a user other than root go into a user namespace (builder.cli.main)."""

from __future__ import annotations

import pytest

from builder.cli import main
from builder.runtime.userns import MARKER


@pytest.mark.parametrize(
    ("args", "enters"),
    [
        (["build", "."], True),
        (["pull", "busybox"], True),
        (["push", "x"], True),
        (["images"], True),
        (["run", "--rm", "img", "sh", "--help"], True),  # the container's --help
        (["container", "run", "img", "ls", "-h"], True),
        (["lint", "Dockerfile"], False),
        (["parse", "Dockerfile"], False),
        (["login", "r.example"], False),
        (["build", "--help"], False),
        (["run", "--help"], False),
        (["container", "run", "--help"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_needs_user_namespace(
    monkeypatch: pytest.MonkeyPatch, args: list[str], enters: bool
) -> None:
    monkeypatch.setattr(main.os, "geteuid", lambda: 1000)
    monkeypatch.delenv(MARKER, raising=False)
    assert main._needs_user_namespace(args) is enters


def test_root_and_an_entered_namespace_never_enter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main.os, "geteuid", lambda: 0)
    assert not main._needs_user_namespace(["build", "."])
    monkeypatch.setattr(main.os, "geteuid", lambda: 1000)
    monkeypatch.setenv(MARKER, "1000")
    assert not main._needs_user_namespace(["build", "."])
