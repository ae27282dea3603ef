"""Finding the QEMU handler in binfmt_misc, and what a missing one says (files as the kernel
writes them, in a temporary directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BuildError
from builder.runtime.emulation import find_emulator

HANDLER = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: {flags}
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""


def _binfmt(tmp_path: Path, flags: str = "PF", state: str = "enabled") -> Path:
    (tmp_path / "status").write_text(state + "\n")
    (tmp_path / "qemu-aarch64").write_text(HANDLER.format(flags=flags))
    return tmp_path


def test_fix_binary_handler(tmp_path: Path) -> None:
    emulator = find_emulator("linux/arm64", _binfmt(tmp_path))
    assert emulator.fix_binary
    assert emulator.interpreter == "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"


def test_not_mounted_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        find_emulator("linux/arm64", tmp_path / "absent")
    assert "binfmt_misc is not mounted" in info.value.message
    assert info.value.hint is not None
    assert "apt-get install qemu-user-static binfmt-support" in info.value.hint
    assert "mount -t binfmt_misc" in info.value.hint


def test_missing_handler(tmp_path: Path) -> None:
    binfmt = _binfmt(tmp_path)
    with pytest.raises(BuildError, match="no qemu-s390x handler is registered"):
        find_emulator("linux/s390x", binfmt)


def test_disabled(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="binfmt_misc is disabled"):
        find_emulator("linux/arm64", _binfmt(tmp_path, state="disabled"))
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "qemu-aarch64").write_text(
        HANDLER.format(flags="PF").replace("enabled", "disabled")
    )
    with pytest.raises(BuildError, match="the qemu-aarch64 handler is disabled"):
        find_emulator("linux/arm64", tmp_path)


def test_without_fix_binary_the_interpreter_must_exist(tmp_path: Path) -> None:
    binfmt = _binfmt(tmp_path, flags="P")
    (binfmt / "qemu-aarch64").write_text(
        HANDLER.format(flags="P").replace(
            "/usr/libexec/qemu-binfmt/aarch64-binfmt-P", str(tmp_path / "nowhere")
        )
    )
    with pytest.raises(BuildError, match=r"interpreter \S+ is missing"):
        find_emulator("linux/arm64", binfmt)
