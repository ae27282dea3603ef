"""BuildKit's build checks (`docker build --check`), one module per check.

Codes are BuildKit's check names (`StageNameCasing`), messages follow
BuildKit's wording, every check is a warning. The engine applies the file's
`# check=` directive: `skip=` and `skip=all` switch checks off, `error=true`
turns findings into errors. `parse_check_directive` reads that directive and
`enabled_rules` applies it to `RULES`.

Experimental checks (`EXPERIMENTAL`: CopyIgnoredFile and
InvalidDefinitionDescription) are off unless the directive says
`experimental=<name>` or `experimental=all`; as in BuildKit, `skip=` does not
apply to them. Their check functions read the directive themselves, so they
stay off whatever selects the rules.

Checks that need the build context (CopyIgnoredFile) do nothing without
`RuleSettings.context_dir`. InvalidBaseImagePlatform needs the pulled base
image and is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.lint.model import Rule
from builder.lint.rules.buildkit import (
    consistent_instruction_casing,
    copy_ignored_file,
    duplicate_stage_name,
    expose_invalid_format,
    expose_proto_casing,
    from_as_casing,
    from_platform_flag_const_disallowed,
    invalid_default_arg_in_from,
    invalid_definition_description,
    json_args_recommended,
    legacy_key_value_format,
    maintainer_deprecated,
    multiple_instructions_disallowed,
    no_empty_continuation,
    redundant_target_platform,
    reserved_stage_name,
    secrets_used_in_arg_or_env,
    stage_name_casing,
    undefined_arg_in_from,
    undefined_var,
    workdir_relative_path,
)

__all__ = [
    "EXPERIMENTAL",
    "RULES",
    "CheckDirective",
    "enabled_rules",
    "parse_check_directive",
]

#: In the order of Docker's build checks reference.
RULES: list[Rule] = [
    stage_name_casing.RULE,
    from_as_casing.RULE,
    no_empty_continuation.RULE,
    consistent_instruction_casing.RULE,
    duplicate_stage_name.RULE,
    reserved_stage_name.RULE,
    json_args_recommended.RULE,
    maintainer_deprecated.RULE,
    undefined_arg_in_from.RULE,
    workdir_relative_path.RULE,
    undefined_var.RULE,
    multiple_instructions_disallowed.RULE,
    legacy_key_value_format.RULE,
    redundant_target_platform.RULE,
    secrets_used_in_arg_or_env.RULE,
    invalid_default_arg_in_from.RULE,
    from_platform_flag_const_disallowed.RULE,
    copy_ignored_file.RULE,
    invalid_definition_description.RULE,
    expose_proto_casing.RULE,
    expose_invalid_format.RULE,
]

#: Checks BuildKit marks experimental: off unless `experimental=` names them.
EXPERIMENTAL: frozenset[str] = frozenset(
    {copy_ignored_file.NAME, invalid_definition_description.NAME}
)

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


def enabled_rules(directive: CheckDirective | None = None) -> list[Rule]:
    """The checks a directive leaves on (all non-experimental ones without a directive)."""
    directive = directive or CheckDirective()
    return [rule for rule in RULES if directive.enables(rule.code)]
