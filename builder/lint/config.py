"""Lint configuration, read the way hadolint reads it.

Three sources, merged field by field:

1. a config file: `-c FILE`, else the first of `./.hadolint.yaml`,
   `./.hadolint.yml`, `$XDG_CONFIG_HOME/hadolint.yaml` (`~/.config` when
   unset), `~/.hadolint/{hadolint,config}.yaml`, `~/.hadolint.yaml` (each
   also with `.yml`);
2. the `HADOLINT_*` environment variables (and `NO_COLOR`);
3. the command line.

Settings with one value (threshold, format, booleans) take the value of the
highest source that sets it: command line, then environment, then file.
Rule lists (`ignored`, `override`, trusted registries, label schema) are the
union of all sources; when several severities are given for one rule, the
most severe wins (`error` > `warning` > `info` > `style`), as in hadolint.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from builder.errors import PybuildError
from builder.lint.model import RuleSettings, Severity

#: Output formats, hadolint's names.
FORMATS: tuple[str, ...] = (
    "tty",
    "json",
    "checkstyle",
    "codeclimate",
    "gitlab_codeclimate",
    "gnu",
    "codacy",
    "sonarqube",
    "sarif",
    "junit",
)

#: Label schema types hadolint knows (`--require-label NAME:TYPE`).
LABEL_TYPES: tuple[str, ...] = ("text", "url", "semver", "hash", "rfc3339", "spdx", "email")

_OVERRIDE_LEVELS: tuple[tuple[str, Severity], ...] = (
    ("style", Severity.STYLE),
    ("info", Severity.INFO),
    ("warning", Severity.WARNING),
    ("error", Severity.ERROR),
)

_TRUTHY = frozenset({"1", "y", "on", "true", "yes"})


class ConfigError(PybuildError):
    """The configuration (file, environment or option) is not valid."""


@dataclass(frozen=True)
class LintConfig:
    """The resolved configuration of one lint run."""

    ignored: frozenset[str] = frozenset()
    #: rule code -> severity (`override:` / `--error` ...), already resolved
    overrides: Mapping[str, Severity] = field(default_factory=dict)
    trusted_registries: tuple[str, ...] = ()
    label_schema: Mapping[str, str] = field(default_factory=dict)
    strict_labels: bool = False
    failure_threshold: Severity = Severity.INFO
    no_fail: bool = False
    no_color: bool = False
    format: str = "tty"
    disable_ignore_pragma: bool = False
    verbose: bool = False
    #: run BuildKit's build checks even without a `# check=` directive
    buildkit_checks: bool = False
    #: build context for the context rules; None: they do not run
    context_dir: Path | None = None
    #: run ShellCheck on RUN scripts (SCxxxx findings)
    shellcheck: bool = True
    #: the ShellCheck program (a name on PATH or a path)
    shellcheck_program: str = "shellcheck"
    #: parallel ShellCheck processes; None: one per CPU
    jobs: int | None = None
    #: where ShellCheck's results are kept between runs; None: no cache
    cache_dir: Path | None = None
    #: path shown instead of the real one in checkstyle, codeclimate,
    #: gitlab_codeclimate, sonarqube and junit reports
    file_path_in_report: str | None = None
    #: the config file that was read, if any
    config_file: Path | None = None
    #: base images' ENV from the local store (UndefinedVar); None: not known
    image_env: Callable[[str], Mapping[str, str] | None] | None = None

    def severity_of(self, code: str, default: Severity) -> Severity:
        return self.overrides.get(code, default)

    def rule_settings(self) -> RuleSettings:
        return RuleSettings(
            trusted_registries=self.trusted_registries,
            label_schema=dict(self.label_schema),
            strict_labels=self.strict_labels,
            context_dir=self.context_dir,
            image_env=self.image_env,
        )


@dataclass
class PartialConfig:
    """What one source (file, environment, command line) sets; None: not set."""

    no_fail: bool | None = None
    no_color: bool | None = None
    verbose: bool | None = None
    format: str | None = None
    failure_threshold: Severity | None = None
    strict_labels: bool | None = None
    disable_ignore_pragma: bool | None = None
    error_rules: list[str] = field(default_factory=list)
    warning_rules: list[str] = field(default_factory=list)
    info_rules: list[str] = field(default_factory=list)
    style_rules: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    trusted_registries: list[str] = field(default_factory=list)
    label_schema: dict[str, str] = field(default_factory=dict)

    def over(self, lower: PartialConfig) -> PartialConfig:
        """This source laid over a lower-precedence one."""
        merged: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(lower, f.name)
            if isinstance(mine, list):
                merged[f.name] = [*theirs, *mine]
            elif isinstance(mine, dict):
                merged[f.name] = {**theirs, **mine}
            else:
                merged[f.name] = mine if mine is not None else theirs
        return PartialConfig(**merged)


def parse_severity(text: str, where: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError:
        raise ConfigError(
            f"{where}: invalid failure threshold {text!r}: "
            "use error, warning, info, style, ignore or none"
        ) from None


def parse_format(text: str, where: str) -> str:
    fmt = text.strip()
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: unknown format {text!r}: use one of {', '.join(FORMATS)}")
    return fmt


def parse_label(item: str, where: str) -> tuple[str, str]:
    """`maintainer:text` -> ("maintainer", "text")."""
    name, colon, kind = item.partition(":")
    if not colon or not name:
        raise ConfigError(f"{where}: invalid label schema {item!r}: write NAME:TYPE")
    if kind not in LABEL_TYPES:
        raise ConfigError(
            f"{where}: invalid label type {kind!r} for {name!r}: "
            f"use one of {', '.join(LABEL_TYPES)}"
        )
    return name, kind


def _truthy(value: str) -> bool:
    return value.strip().lower() in _TRUTHY


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def from_environment(env: Mapping[str, str]) -> PartialConfig:
    """The `HADOLINT_*` variables (and `NO_COLOR`, set to anything)."""
    part = PartialConfig()

    def flag(name: str) -> bool | None:
        return _truthy(env[name]) if name in env else None

    part.no_fail = flag("HADOLINT_NOFAIL")
    part.verbose = flag("HADOLINT_VERBOSE")
    part.strict_labels = flag("HADOLINT_STRICT_LABELS")
    part.disable_ignore_pragma = flag("HADOLINT_DISABLE_IGNORE_PRAGMA")
    if "NO_COLOR" in env:
        part.no_color = True
    if env.get("HADOLINT_FORMAT"):
        part.format = parse_format(env["HADOLINT_FORMAT"], "HADOLINT_FORMAT")
    if env.get("HADOLINT_FAILURE_THRESHOLD"):
        part.failure_threshold = parse_severity(
            env["HADOLINT_FAILURE_THRESHOLD"], "HADOLINT_FAILURE_THRESHOLD"
        )
    part.error_rules = _comma_list(env.get("HADOLINT_OVERRIDE_ERROR", ""))
    part.warning_rules = _comma_list(env.get("HADOLINT_OVERRIDE_WARNING", ""))
    part.info_rules = _comma_list(env.get("HADOLINT_OVERRIDE_INFO", ""))
    part.style_rules = _comma_list(env.get("HADOLINT_OVERRIDE_STYLE", ""))
    part.ignored = _comma_list(env.get("HADOLINT_IGNORE", ""))
    part.trusted_registries = _comma_list(env.get("HADOLINT_TRUSTED_REGISTRIES", ""))
    for item in _comma_list(env.get("HADOLINT_REQUIRE_LABELS", "")):
        name, kind = parse_label(item, "HADOLINT_REQUIRE_LABELS")
        part.label_schema[name] = kind
    return part


# ---------------------------------------------------------------------------
# The config file


def config_file_candidates(cwd: Path, env: Mapping[str, str]) -> list[Path]:
    """Where hadolint looks for a config file, in order (the first found is used)."""
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    hidden = (".hadolint.yaml", ".hadolint.yml")
    visible = ("hadolint.yaml", "hadolint.yml")
    return [
        *(cwd / name for name in hidden),
        *(xdg / name for name in visible),
        *(home / ".hadolint" / name for name in (*visible, "config.yaml", "config.yml")),
        *(home / name for name in hidden),
    ]


def find_config_file(cwd: Path, env: Mapping[str, str]) -> Path | None:
    for candidate in config_file_candidates(cwd, env):
        if candidate.is_file():
            return candidate
    return None


def _string_list(value: Any, key: str, where: str, *, scalar_ok: bool = False) -> list[str]:
    if value is None:
        return []
    if scalar_ok and isinstance(value, str | int | float):
        return [str(value)]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigError(f"{where}: key '{key}' must be a list of strings")
    return [str(v) for v in value]


def _bool(value: Any, key: str, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: key '{key}' must be true or false, not {value!r}")
    return value


def _string(value: Any, key: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: key '{key}' must be a string, not {value!r}")
    return value


def parse_config_data(data: Any, where: str) -> PartialConfig:
    """A parsed YAML document -> settings; `where` names the file in errors."""
    part = PartialConfig()
    if data is None:
        return part
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the config file must be a mapping of keys, e.g. 'ignored:'")
    part.no_fail = _bool(data.get("no-fail"), "no-fail", where)
    part.no_color = _bool(data.get("no-color"), "no-color", where)
    part.verbose = _bool(data.get("verbose"), "verbose", where)
    part.strict_labels = _bool(data.get("strict-labels"), "strict-labels", where)
    part.disable_ignore_pragma = _bool(
        data.get("disable-ignore-pragma"), "disable-ignore-pragma", where
    )
    fmt = _string(data.get("format"), "format", where)
    if fmt is not None:
        part.format = parse_format(fmt, f"{where}: key 'format'")
    threshold = _string(data.get("failure-threshold"), "failure-threshold", where)
    if threshold is not None:
        part.failure_threshold = parse_severity(threshold, f"{where}: key 'failure-threshold'")
    part.ignored = _string_list(data.get("ignored"), "ignored", where)
    part.trusted_registries = _string_list(
        data.get("trustedRegistries"), "trustedRegistries", where, scalar_ok=True
    )
    override = data.get("override")
    if override is not None:
        if not isinstance(override, dict):
            raise ConfigError(
                f"{where}: key 'override' must map error/warning/info/style to lists of rules"
            )
        for level in override:
            if level not in ("error", "warning", "info", "style"):
                raise ConfigError(
                    f"{where}: key 'override.{level}' is unknown: use error, warning, info or style"
                )
        part.error_rules = _string_list(override.get("error"), "override.error", where)
        part.warning_rules = _string_list(override.get("warning"), "override.warning", where)
        part.info_rules = _string_list(override.get("info"), "override.info", where)
        part.style_rules = _string_list(override.get("style"), "override.style", where)
    schema = data.get("label-schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise ConfigError(f"{where}: key 'label-schema' must map label names to types")
        for name, kind in schema.items():
            if not isinstance(kind, str) or kind not in LABEL_TYPES:
                raise ConfigError(
                    f"{where}: key 'label-schema.{name}' has invalid type {kind!r}: "
                    f"use one of {', '.join(LABEL_TYPES)}"
                )
            part.label_schema[str(name)] = kind
    return part


def read_config_file(path: Path) -> PartialConfig:
    """Read and check one config file; any problem is a one-line `ConfigError`."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    return parse_config_data(data, str(path))


# ---------------------------------------------------------------------------
# Putting it together


def _overrides(part: PartialConfig) -> dict[str, Severity]:
    result: dict[str, Severity] = {}
    lists = {
        "style": part.style_rules,
        "info": part.info_rules,
        "warning": part.warning_rules,
        "error": part.error_rules,
    }
    for name, severity in _OVERRIDE_LEVELS:  # least severe first: the most severe wins
        for code in lists[name]:
            result[code.strip()] = severity
    return result


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))


def resolve(
    cli: PartialConfig | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **extra: Any,
) -> LintConfig:
    """Merge file, environment and command line into a `LintConfig`.

    `config_file` is `-c FILE`; without it the usual places are searched.
    `extra` sets pybuild's own fields (`buildkit_checks`, `context_dir`, ...).
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    path = Path(config_file) if config_file is not None else find_config_file(cwd, env)
    from_file = read_config_file(path) if path is not None else PartialConfig()
    merged = (cli or PartialConfig()).over(from_environment(env).over(from_file))
    config = LintConfig(
        ignored=frozenset(_unique(merged.ignored)),
        overrides=_overrides(merged),
        trusted_registries=_unique(merged.trusted_registries),
        label_schema=dict(merged.label_schema),
        strict_labels=bool(merged.strict_labels),
        failure_threshold=(
            merged.failure_threshold if merged.failure_threshold is not None else Severity.INFO
        ),
        no_fail=bool(merged.no_fail),
        no_color=bool(merged.no_color),
        format=merged.format or "tty",
        disable_ignore_pragma=bool(merged.disable_ignore_pragma),
        verbose=bool(merged.verbose),
        config_file=path,
    )
    return replace(config, **extra) if extra else config


def describe(config: LintConfig) -> str:
    """A readable dump for `--verbose`."""
    lines = [
        f"config file: {config.config_file}"
        if config.config_file
        else "config file: none found, using the defaults",
        f"format: {config.format}",
        f"failure threshold: {config.failure_threshold.label}",
        f"no fail: {str(config.no_fail).lower()}",
        f"no color: {str(config.no_color).lower()}",
        f"ignored: {', '.join(sorted(config.ignored)) or 'none'}",
    ]
    for name, severity in reversed(_OVERRIDE_LEVELS):
        codes = sorted(c for c, s in config.overrides.items() if s == severity)
        lines.append(f"override {name}: {', '.join(codes) or 'none'}")
    lines += [
        f"trusted registries: {', '.join(config.trusted_registries) or 'none'}",
        "label schema: "
        + (", ".join(f"{k}:{v}" for k, v in sorted(config.label_schema.items())) or "none"),
        f"strict labels: {str(config.strict_labels).lower()}",
        f"disable ignore pragma: {str(config.disable_ignore_pragma).lower()}",
        f"buildkit checks: {str(config.buildkit_checks).lower()}",
        f"context: {config.context_dir or 'none'}",
    ]
    return "\n".join(lines)
