"""DL3016: Pin versions in npm.

`npm install package` resolves to the newest release at build time. Pin
with `package@version`; git URLs with a `#commit` or `#semver:` part,
tarballs and local folders count as pinned. `npm install` without package
names installs from package.json and is not reported.

Fails:

    FROM node:20
    RUN npm install express

Passes:

    FROM node:20
    RUN npm install express@4.19.2
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c
from builder.lint.rules.hadolint.dl3013 import strip_install

CODE: Final = "DL3016"
MESSAGE: Final = (
    "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`"
)
GIT_PREFIXES: Final = ("git://", "git+ssh://", "git+http://", "git+https://")
TARBALLS: Final = (".tar", ".tar.gz", ".tgz")
PATHS: Final = ("/", "./", "../", "~/")


def is_pinned(package: str) -> bool:
    if package.startswith(GIT_PREFIXES):
        return "#" in package
    if package.endswith(TARBALLS) or package.startswith(PATHS):
        return True
    if package.startswith("@"):  # @scope/name@version: skip the scope
        cut = 0
        while cut < len(package) and package[cut] > "/":
            cut += 1
        package = package[cut:]
    return "@" in package


def forgot_to_pin(cmd: shell.Command) -> bool:
    if not shell.cmd_has_args(cmd, "npm", ["install"]):
        return False
    words = shell.args_without_flags(shell.drop_flag_args(cmd, ["loglevel", "registry"]))
    if not words or words[0] != "install":
        return False
    return not all(is_pinned(p) for p in strip_install(words))


def _ok(inst: Instruction) -> bool:
    return c.no_run_command(inst, forgot_to_pin)


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
