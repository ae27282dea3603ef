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
from builder.lint.rules.buildkit._directive import (
    EXPERIMENTAL,
    CheckDirective,
    parse_check_directive,
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


def enabled_rules(directive: CheckDirective | None = None) -> list[Rule]:
    """The checks a directive leaves on (all non-experimental ones without a directive)."""
    directive = directive or CheckDirective()
    return [rule for rule in RULES if directive.enables(rule.code)]
