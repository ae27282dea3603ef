"""DL3013: Pin versions in pip.

`pip install package` takes the newest release at build time, so rebuilds
drift and can break. Pin with `package==version` (or another version
specifier), or install from a requirements or constraints file. Local
wheels and archives, paths and VCS URLs with a revision count as pinned.

Fails:

    FROM python:3.12
    RUN pip install --no-cache-dir flask

Passes:

    FROM python:3.12
    RUN pip install --no-cache-dir flask==3.0.3
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3013"
MESSAGE: Final = (
    "Pin versions in pip. Instead of `pip install <package>` use `pip install "
    "<package>==<version>` or `pip install --requirement <requirements file>`"
)
#: Options whose value is the next word (that word is not a package).
VALUE_FLAGS: Final = (
    "abi", "b", "build", "e", "editable", "extra-index-url", "f", "find-links", "i",
    "index-url", "implementation", "no-binary", "only-binary", "platform", "prefix",
    "progress-bar", "proxy", "python", "python-version", "root", "root-user-action", "src",
    "t", "target", "trusted-host", "upgrade-strategy",
)  # fmt: skip
VCS_PREFIXES: Final = (
    "git+file", "git+https", "git+ssh", "git+http", "git+git", "git", "hg+file", "hg+http",
    "hg+https", "hg+ssh", "hg+static-http", "svn", "svn+svn", "svn+http", "svn+https",
    "svn+ssh", "bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp",
)  # fmt: skip
SPECIFIERS: Final = ("==", ">=", "<=", ">", "<", "!=", "~=", "===")


def strip_install(args: Sequence[str]) -> list[str]:
    """The words after `install` (hadolint's stripInstallPrefix)."""
    words = list(args)
    if "install" not in words:
        return []
    rest = words[words.index("install") :]
    while rest and rest[0] == "install":
        rest.pop(0)
    return rest


def is_pinned(package: str) -> bool:
    vcs = package.startswith(VCS_PREFIXES)
    return (
        any(s in package for s in SPECIFIERS)
        or (vcs and "@" in package)
        or package.endswith((".whl", ".tar.gz"))
        or (not vcs and "/" in package)
    )


def forgot_to_pin(cmd: shell.Command) -> bool:
    if not shell.is_pip_install(cmd):
        return False
    if shell.has_any_flag(cmd, ["constraint", "c"]):
        return False
    if "--requirement" in cmd.args or "-r" in cmd.args or "." in cmd.args:
        return False
    packages = strip_install(shell.args_without_flags(shell.drop_flag_args(cmd, VALUE_FLAGS)))
    return not all(is_pinned(p) for p in packages)


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_to_pin)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
