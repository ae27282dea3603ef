"""Running programs of another CPU architecture: QEMU user emulation through binfmt_misc.

The kernel runs a foreign ELF binary through the interpreter registered for
its magic in /proc/sys/fs/binfmt_misc (Debian's qemu-user-static registers
`qemu-<cpu>` handlers through binfmt-support). With the `F` (fix-binary)
flag the kernel opened the interpreter when it was registered, so it works
inside a container's root filesystem as is; without it the interpreter must
be at the same path inside the container, so RUN binds it there read-only.

Nothing here runs for native platforms (`builder.image.platform.needs_emulation`
says which are). Platforms come as normalized text (`linux/arm64`): this
package knows no image types.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
#: where binfmt_misc is mounted, when not at BINFMT_DIR
BINFMT_ENV = "PYBUILD_BINFMT_MISC"

#: OCI architecture -> QEMU's name for the CPU (the handler is `qemu-<name>`)
QEMU_CPU = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "arm",
    "386": "i386",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64le": "mips64el",
    "mips64": "mips64",
    "mipsle": "mipsel",
    "mips": "mips",
    "loong64": "loongarch64",
}


@dataclass(frozen=True)
class Emulator:
    """A registered, enabled binfmt_misc handler for one architecture."""

    platform: str  #: `linux/arm64`
    handler: str  #: `qemu-aarch64`
    interpreter: str  #: the path the kernel runs (`/usr/libexec/qemu-binfmt/aarch64-binfmt-P`)
    fix_binary: bool  #: the `F` flag: usable in a container without a bind mount

    def bind_source(self) -> str:
        """The interpreter file to bind at `interpreter` when there is no `F` flag."""
        return os.path.realpath(self.interpreter)


def _install_hint(cpu: str) -> str:
    return (
        "install QEMU user emulation and register it: "
        "apt-get install qemu-user-static binfmt-support; "
        "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc (if it is not mounted); "
        f"update-binfmts --enable qemu-{cpu}"
    )


def _parse_handler(text: str) -> tuple[bool, str, str]:
    """(enabled, interpreter, flags) of a /proc/sys/fs/binfmt_misc/<name> file."""
    enabled, interpreter, flags = False, "", ""
    for line in text.splitlines():
        if line == "enabled":
            enabled = True
        elif line.startswith("interpreter "):
            interpreter = line.split(" ", 1)[1].strip()
        elif line.startswith("flags:"):
            flags = line.split(":", 1)[1].strip()
    return enabled, interpreter, flags


def find_emulator(platform: str, binfmt_dir: Path | None = None) -> Emulator:
    """The emulator that runs `platform`'s programs here; BuildError saying what to install.

    `platform` is normalized `os/arch[/variant]` text. `binfmt_dir` defaults to
    $PYBUILD_BINFMT_MISC, else /proc/sys/fs/binfmt_misc.
    """
    if binfmt_dir is None:
        binfmt_dir = Path(os.environ.get(BINFMT_ENV) or BINFMT_DIR)
    architecture = [*platform.split("/"), ""][1]
    cpu = QEMU_CPU.get(architecture)
    if cpu is None:
        raise BuildError(
            f"cannot run {platform} programs on this machine: no emulator is known "
            f"for {architecture}",
            hint="build this platform on a machine of its architecture",
        )
    status = binfmt_dir / "status"
    try:
        state = status.read_text().strip()
    except OSError:
        raise BuildError(
            f"cannot run {platform} programs: binfmt_misc is not mounted at {binfmt_dir}",
            hint=_install_hint(cpu),
        ) from None
    if state != "enabled":
        raise BuildError(
            f"cannot run {platform} programs: binfmt_misc is disabled ({status} says {state!r})",
            hint=f"echo 1 > {status}; " + _install_hint(cpu),
        )
    handler = f"qemu-{cpu}"
    try:
        enabled, interpreter, flags = _parse_handler((binfmt_dir / handler).read_text())
    except OSError:
        raise BuildError(
            f"cannot run {platform} programs: no {handler} handler is registered in {binfmt_dir}",
            hint=_install_hint(cpu),
        ) from None
    if not enabled:
        raise BuildError(
            f"cannot run {platform} programs: the {handler} handler is disabled",
            hint=f"update-binfmts --enable {handler} (or echo 1 > {binfmt_dir / handler})",
        )
    fix_binary = "F" in flags
    if not fix_binary and not Path(interpreter).exists():
        raise BuildError(
            f"cannot run {platform} programs: the {handler} interpreter {interpreter} is missing",
            hint=_install_hint(cpu),
        )
    return Emulator(platform, handler, interpreter, fix_binary)
