"""The `# check=` parser directive: which build checks run, and as errors or not.

Kept apart from the package's `__init__` (which imports every check) so
that checks can read the directive without importing the package.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Checks BuildKit marks experimental: off unless `experimental=` names them.
#: (The `NAME`s of copy_ignored_file and invalid_definition_description;
#: tests/lint/test_buildkit_checks.py checks that they agree.)
EXPERIMENTAL: frozenset[str] = frozenset({"CopyIgnoredFile", "InvalidDefinitionDescription"})

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(frozen=True)
class CheckDirective:
    """The `# check=skip=A,B;error=true;experimental=C` parser directive."""

    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    error: bool = False  #: report findings as errors (the build fails in BuildKit)
    experimental: frozenset[str] = frozenset()
    experimental_all: bool = False

    def enables(self, name: str) -> bool:
        """Does this directive leave the check `name` on?"""
        if name in EXPERIMENTAL:
            return self.experimental_all or name in self.experimental
        return not self.skip_all and name not in self.skip


def _names(value: str) -> tuple[bool, frozenset[str]]:
    value = value.strip()
    if value == "all":
        return True, frozenset()
    return False, frozenset(name.strip() for name in value.split(",") if name.strip())


def parse_check_directive(value: str) -> CheckDirective:
    """Parse the value of a `# check=` directive the way BuildKit does.

    Options are separated by `;` and written `key=value`: `skip` and
    `experimental` take `all` or a comma-separated list of check names,
    `error` takes a Go boolean (`true`, `false`, `1`, `0`, `t`, `f`...).
    Raises ValueError with a message naming the bad option.
    """
    text = value.strip()
    if not text:
        return CheckDirective()
    skip: frozenset[str] = frozenset()
    experimental: frozenset[str] = frozenset()
    skip_all = experimental_all = error = False
    for part in text.split(";"):
        key, eq, option = part.partition("=")
        if not eq:
            raise ValueError(
                f"invalid check option {part.strip()!r}: expected key=value "
                "(skip=..., error=... or experimental=...)"
            )
        key = key.strip()
        if key == "skip":
            skip_all, skip = _names(option)
        elif key == "experimental":
            experimental_all, experimental = _names(option)
        elif key == "error":
            flag = option.strip()
            if flag in _TRUE:
                error = True
            elif flag in _FALSE:
                error = False
            else:
                raise ValueError(
                    f"failed to parse check option {part.strip()!r}: error= takes true or false"
                )
        else:
            raise ValueError(f"invalid check option {key!r}: expected skip, error or experimental")
    return CheckDirective(skip, skip_all, error, experimental, experimental_all)
