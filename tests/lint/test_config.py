"""Configuration as hadolint reads it: the config file, HADOLINT_* variables, the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.lint.config import (
    ConfigError,
    LintConfig,
    PartialConfig,
    config_file_candidates,
    describe,
    from_environment,
    resolve,
)
from builder.lint.model import Severity

FULL = """\
failure-threshold: warning
format: json
ignored:
  - DL3000
  - SC1010
label-schema:
  author: text
  created: rfc3339
no-color: true
no-fail: true
override:
  error: [DL3001]
  warning: [DL3042]
  info: [DL3032]
  style: [DL3015]
strict-labels: true
disable-ignore-pragma: true
trustedRegistries:
  - docker.io
  - my-company.com:5000
verbose: true
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    return tmp_path


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home / "home"), **extra}


def test_defaults_without_any_source(home: Path) -> None:
    config = resolve(env=env_for(home), cwd=home / "work")
    assert config == LintConfig()
    assert config.failure_threshold == Severity.INFO and config.format == "tty"
    assert config.config_file is None


def test_every_config_file_key(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text(FULL)
    config = resolve(env=env_for(home), cwd=home / "work")
    assert config.config_file == home / "work" / ".hadolint.yaml"
    assert config.failure_threshold == Severity.WARNING
    assert config.format == "json"
    assert config.ignored == {"DL3000", "SC1010"}
    assert config.label_schema == {"author": "text", "created": "rfc3339"}
    assert config.no_color and config.no_fail and config.strict_labels and config.verbose
    assert config.disable_ignore_pragma
    assert config.overrides == {
        "DL3001": Severity.ERROR,
        "DL3042": Severity.WARNING,
        "DL3032": Severity.INFO,
        "DL3015": Severity.STYLE,
    }
    assert config.trusted_registries == ("docker.io", "my-company.com:5000")
    settings = config.rule_settings()
    assert settings.trusted_registries == ("docker.io", "my-company.com:5000")
    assert settings.label_schema == {"author": "text", "created": "rfc3339"}
    assert settings.strict_labels


def test_config_file_search_order(home: Path) -> None:
    env = env_for(home, XDG_CONFIG_HOME=str(home / "xdg"))
    names = config_file_candidates(home / "work", env)
    assert names == [
        home / "work" / ".hadolint.yaml",
        home / "work" / ".hadolint.yml",
        home / "xdg" / "hadolint.yaml",
        home / "xdg" / "hadolint.yml",
        home / "home" / ".hadolint" / "hadolint.yaml",
        home / "home" / ".hadolint" / "hadolint.yml",
        home / "home" / ".hadolint" / "config.yaml",
        home / "home" / ".hadolint" / "config.yml",
        home / "home" / ".hadolint.yaml",
        home / "home" / ".hadolint.yml",
    ]
    # without XDG_CONFIG_HOME: ~/.config
    assert config_file_candidates(home / "work", env_for(home))[2] == (
        home / "home" / ".config" / "hadolint.yaml"
    )


def test_the_first_config_file_found_is_used(home: Path) -> None:
    (home / "home" / ".hadolint.yaml").write_text("ignored: [DL1]\n")
    (home / "home" / ".config").mkdir()
    (home / "home" / ".config" / "hadolint.yml").write_text("ignored: [DL2]\n")
    config = resolve(env=env_for(home), cwd=home / "work")
    assert config.ignored == {"DL2"}
    (home / "work" / ".hadolint.yml").write_text("ignored: [DL3]\n")
    assert resolve(env=env_for(home), cwd=home / "work").ignored == {"DL3"}


def test_explicit_config_file_wins_over_the_search(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text("ignored: [DL1]\n")
    other = home / "other.yaml"
    other.write_text("ignored: [DL2]\n")
    config = resolve(config_file=other, env=env_for(home), cwd=home / "work")
    assert config.ignored == {"DL2"} and config.config_file == other


def test_environment_variables(home: Path) -> None:
    env = env_for(
        home,
        HADOLINT_NOFAIL="yes",
        HADOLINT_VERBOSE="1",
        HADOLINT_FORMAT="sarif",
        HADOLINT_FAILURE_THRESHOLD="style",
        HADOLINT_OVERRIDE_ERROR="DL3010, DL3020",
        HADOLINT_OVERRIDE_WARNING="DL3011",
        HADOLINT_OVERRIDE_INFO="DL3012",
        HADOLINT_OVERRIDE_STYLE="DL3013",
        HADOLINT_IGNORE="DL3014,SC2086",
        HADOLINT_TRUSTED_REGISTRIES="docker.io,quay.io",
        HADOLINT_REQUIRE_LABELS="maintainer:text,version:semver",
        HADOLINT_STRICT_LABELS="true",
        HADOLINT_DISABLE_IGNORE_PRAGMA="on",
        NO_COLOR="",
    )
    config = resolve(env=env, cwd=home / "work")
    assert config.no_fail and config.verbose and config.strict_labels
    assert config.disable_ignore_pragma and config.no_color
    assert config.format == "sarif" and config.failure_threshold == Severity.STYLE
    assert config.overrides == {
        "DL3010": Severity.ERROR,
        "DL3020": Severity.ERROR,
        "DL3011": Severity.WARNING,
        "DL3012": Severity.INFO,
        "DL3013": Severity.STYLE,
    }
    assert config.ignored == {"DL3014", "SC2086"}
    assert config.trusted_registries == ("docker.io", "quay.io")
    assert config.label_schema == {"maintainer": "text", "version": "semver"}


@pytest.mark.parametrize("value", ["0", "no", "false", "off", "anything"])
def test_environment_flags_that_are_not_truthy_are_false(value: str) -> None:
    assert from_environment({"HADOLINT_NOFAIL": value}).no_fail is False


def test_precedence_command_line_then_environment_then_file(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text(
        "failure-threshold: error\nformat: gnu\nno-fail: false\nno-color: false\n"
    )
    env = env_for(
        home, HADOLINT_FAILURE_THRESHOLD="warning", HADOLINT_FORMAT="json", HADOLINT_NOFAIL="1"
    )
    config = resolve(env=env, cwd=home / "work")
    assert (config.failure_threshold, config.format, config.no_fail) == (
        Severity.WARNING,
        "json",
        True,
    )
    cli = PartialConfig(failure_threshold=Severity.STYLE, format="tty")
    config = resolve(cli, env=env, cwd=home / "work")
    assert (config.failure_threshold, config.format) == (Severity.STYLE, "tty")
    # the file alone
    config = resolve(env=env_for(home), cwd=home / "work")
    assert (config.failure_threshold, config.format, config.no_fail) == (
        Severity.ERROR,
        "gnu",
        False,
    )


def test_rule_lists_from_all_sources_add_up(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text(
        "ignored: [DL3000]\ntrustedRegistries: [a.io]\nlabel-schema: {a: text, b: url}\n"
    )
    env = env_for(
        home,
        HADOLINT_IGNORE="DL3001",
        HADOLINT_TRUSTED_REGISTRIES="b.io",
        HADOLINT_REQUIRE_LABELS="b:email",
    )
    cli = PartialConfig(
        ignored=["DL3002"], trusted_registries=["c.io", "a.io"], label_schema={"c": "hash"}
    )
    config = resolve(cli, env=env, cwd=home / "work")
    assert config.ignored == {"DL3000", "DL3001", "DL3002"}
    assert config.trusted_registries == ("a.io", "b.io", "c.io")
    assert config.label_schema == {"a": "text", "b": "email", "c": "hash"}


def test_the_most_severe_override_wins_whatever_its_source(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text("override:\n  error: [DL3006]\n")
    cli = PartialConfig(style_rules=["DL3006", "DL3007"], warning_rules=["DL3007"])
    config = resolve(cli, env=env_for(home, HADOLINT_OVERRIDE_INFO="DL3006"), cwd=home / "work")
    assert config.overrides == {"DL3006": Severity.ERROR, "DL3007": Severity.WARNING}


def test_trusted_registries_may_be_one_string(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text("trustedRegistries: docker.io\n")
    assert resolve(env=env_for(home), cwd=home / "work").trusted_registries == ("docker.io",)


def test_empty_config_file_and_unknown_keys_are_fine(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text("")
    assert resolve(env=env_for(home), cwd=home / "work").ignored == frozenset()
    (home / "work" / ".hadolint.yaml").write_text("some-future-key: 1\nignored: [DL1]\n")
    assert resolve(env=env_for(home), cwd=home / "work").ignored == {"DL1"}


def test_pybuild_fields_pass_through(home: Path) -> None:
    config = resolve(env=env_for(home), cwd=home / "work", buildkit_checks=True, jobs=3)
    assert config.buildkit_checks and config.jobs == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ignored: DL3006\n", "key 'ignored' must be a list of strings"),
        ("ignored: [[DL3006]]\n", "key 'ignored' must be a list of strings"),
        ("no-fail: maybe\n", "key 'no-fail' must be true or false, not 'maybe'"),
        ("failure-threshold: bogus\n", "key 'failure-threshold': invalid failure threshold"),
        ("format: xml\n", "key 'format': unknown format 'xml'"),
        ("override:\n  fatal: [DL3000]\n", "key 'override.fatal' is unknown"),
        ("override: [DL3000]\n", "key 'override' must map error/warning/info/style"),
        ("override:\n  error: DL3000\n", "key 'override.error' must be a list of strings"),
        ("label-schema:\n  author: bogus\n", "key 'label-schema.author' has invalid type 'bogus'"),
        ("label-schema: [a]\n", "key 'label-schema' must map label names to types"),
        ("- DL3000\n", "the config file must be a mapping"),
    ],
)
def test_bad_config_file_is_one_line_naming_file_and_key(
    home: Path, text: str, message: str
) -> None:
    path = home / "work" / ".hadolint.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        resolve(env=env_for(home), cwd=home / "work")
    rendered = info.value.render()
    assert "\n" not in rendered
    assert rendered.startswith(f"{path}: ")
    assert message in rendered


def test_invalid_yaml_names_the_line(home: Path) -> None:
    path = home / "work" / ".hadolint.yaml"
    path.write_text("ignored:\n  - DL3006\n  foo: [\n")
    with pytest.raises(ConfigError) as info:
        resolve(env=env_for(home), cwd=home / "work")
    assert str(info.value).startswith(f"{path}:3: invalid YAML: ")
    assert "\n" not in str(info.value)


def test_missing_explicit_config_file(home: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml does not exist"):
        resolve(config_file=home / "nope.yaml", env=env_for(home), cwd=home / "work")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HADOLINT_FORMAT": "xml"}, "HADOLINT_FORMAT: unknown format 'xml'"),
        ({"HADOLINT_FAILURE_THRESHOLD": "x"}, "HADOLINT_FAILURE_THRESHOLD: invalid failure"),
        ({"HADOLINT_REQUIRE_LABELS": "a:nope"}, "HADOLINT_REQUIRE_LABELS: invalid label type"),
        ({"HADOLINT_REQUIRE_LABELS": "novalue"}, "invalid label schema 'novalue'"),
    ],
)
def test_bad_environment_values_are_errors(home: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(env=env_for(home, **env), cwd=home / "work")


def test_describe_lists_the_settings(home: Path) -> None:
    (home / "work" / ".hadolint.yaml").write_text(FULL)
    text = describe(resolve(env=env_for(home), cwd=home / "work"))
    assert f"config file: {home / 'work' / '.hadolint.yaml'}" in text
    assert "failure threshold: warning" in text
    assert "override error: DL3001" in text
    assert "trusted registries: docker.io, my-company.com:5000" in text
    assert "label schema: author:text, created:rfc3339" in text
    assert "config file: none found" in describe(LintConfig())
