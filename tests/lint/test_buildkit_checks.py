"""BuildKit's build checks: one table per check, the `# check=` directive, snapshots.

Every table row is a Dockerfile and the exact findings `(line, message)` the
check must produce; an empty list is a passing case. The messages follow
BuildKit's wording, which `docker build --check` prints.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from textwrap import dedent

import pytest
from syrupy.assertion import SnapshotAssertion

import builder.lint.rules.buildkit as buildkit
from builder.dockerfile.parser import parse
from builder.lint.model import LintContext, Rule, RuleSettings, Severity, build_context
from builder.lint.rules.buildkit import (
    EXPERIMENTAL,
    RULES,
    CheckDirective,
    enabled_rules,
    parse_check_directive,
)
from builder.lint.rules.buildkit._common import docs_url, levenshtein, suggest
from tests.lint.findings import findings_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint-context"
BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def lint_context(text: str, context: Path | None = None, path: str = "Dockerfile") -> LintContext:
    dockerfile = parse(dedent(text).lstrip("\n"), path)
    return build_context(dockerfile, RuleSettings(context_dir=context))


def run(code: str, text: str, context: Path | None = None) -> list[tuple[int, str]]:
    rule = BY_CODE[code]
    path = str(context / "Dockerfile") if context else "Dockerfile"
    return [
        (v.line, v.message or rule.message) for v in rule.check(lint_context(text, context, path))
    ]


# ---------------------------------------------------------------------------
# The rule set


def test_rules_are_buildkits_checks() -> None:
    assert [rule.code for rule in RULES] == [
        "StageNameCasing",
        "FromAsCasing",
        "NoEmptyContinuation",
        "ConsistentInstructionCasing",
        "DuplicateStageName",
        "ReservedStageName",
        "JSONArgsRecommended",
        "MaintainerDeprecated",
        "UndefinedArgInFrom",
        "WorkdirRelativePath",
        "UndefinedVar",
        "MultipleInstructionsDisallowed",
        "LegacyKeyValueFormat",
        "RedundantTargetPlatform",
        "SecretsUsedInArgOrEnv",
        "InvalidDefaultArgInFrom",
        "FromPlatformFlagConstDisallowed",
        "CopyIgnoredFile",
        "InvalidDefinitionDescription",
        "ExposeProtoCasing",
        "ExposeInvalidFormat",
    ]
    assert all(rule.severity is Severity.WARNING for rule in RULES)
    assert all(rule.url == docs_url(rule.code) for rule in RULES)
    assert {"CopyIgnoredFile", "InvalidDefinitionDescription"} == EXPERIMENTAL


def test_every_check_module_documents_itself() -> None:
    names = [m.name for m in pkgutil.iter_modules(buildkit.__path__) if not m.name.startswith("_")]
    assert len(names) == len(RULES)
    for name in names:
        module = importlib.import_module(f"builder.lint.rules.buildkit.{name}")
        doc = module.__doc__ or ""
        assert doc.startswith(module.NAME), name
        assert "Bad" in doc and "Good" in doc, name
        assert module.RULE in RULES


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("StageNameCasing", "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"),
        (
            "JSONArgsRecommended",
            "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/",
        ),
        (
            "FromPlatformFlagConstDisallowed",
            "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/",
        ),
    ],
)
def test_docs_url(name: str, url: str) -> None:
    assert docs_url(name) == url


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("PAHT", ["PATH", "HOME"], "PATH"),
        ("VERSON", ["VERSION"], "VERSION"),
        ("X", ["ABCDEF"], None),
        ("PATH", ["PATH"], None),
        ("ab", ["abc", "abd"], "abc"),
        ("", ["a"], "a"),
    ],
)
def test_suggest(value: str, options: list[str], expected: str | None) -> None:
    assert suggest(value, options) == expected


def test_levenshtein() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("same", "same") == 0


# ---------------------------------------------------------------------------
# The check directive


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", CheckDirective()),
        ("   ", CheckDirective()),
        ("skip=all", CheckDirective(skip_all=True)),
        (
            "skip=JSONArgsRecommended, StageNameCasing",
            CheckDirective(skip=frozenset({"JSONArgsRecommended", "StageNameCasing"})),
        ),
        ("error=true", CheckDirective(error=True)),
        ("error=1", CheckDirective(error=True)),
        ("error=False", CheckDirective()),
        (
            "skip=A;error=true;experimental=all",
            CheckDirective(skip=frozenset({"A"}), error=True, experimental_all=True),
        ),
        (
            " experimental = InvalidDefinitionDescription ; skip = all ",
            CheckDirective(skip_all=True, experimental=frozenset({"InvalidDefinitionDescription"})),
        ),
        ("skip=A,,B,", CheckDirective(skip=frozenset({"A", "B"}))),
        ("skip=A;skip=B", CheckDirective(skip=frozenset({"B"}))),
    ],
)
def test_parse_check_directive(value: str, expected: CheckDirective) -> None:
    assert parse_check_directive(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("skip", "invalid check option 'skip'"),
        ("error=maybe", "failed to parse check option 'error=maybe'"),
        ("warn=true", "invalid check option 'warn'"),
        ("skip=A;", "invalid check option ''"),
        ("skip=A;error", "invalid check option 'error'"),
    ],
)
def test_parse_check_directive_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_check_directive(value)


def test_enabled_rules() -> None:
    default = [rule.code for rule in enabled_rules()]
    assert "CopyIgnoredFile" not in default and "InvalidDefinitionDescription" not in default
    assert len(default) == len(RULES) - 2
    assert enabled_rules(parse_check_directive("skip=all")) == []
    only_experimental = enabled_rules(parse_check_directive("skip=all;experimental=all"))
    assert {rule.code for rule in only_experimental} == EXPERIMENTAL
    skipped = enabled_rules(parse_check_directive("skip=UndefinedVar,CopyIgnoredFile"))
    assert "UndefinedVar" not in {rule.code for rule in skipped}
    directive = parse_check_directive("experimental=CopyIgnoredFile")
    assert directive.enables("CopyIgnoredFile") and not directive.enables(
        "InvalidDefinitionDescription"
    )


# ---------------------------------------------------------------------------
# One table per check: (Dockerfile, expected findings)

CASES: dict[str, list[tuple[str, list[tuple[int, str]]]]] = {
    "StageNameCasing": [
        ("FROM alpine AS BuilderBase\n", [(1, "Stage name 'BuilderBase' should be lowercase")]),
        ("FROM alpine AS builder-base\n", []),
        ("FROM alpine\n", []),
    ],
    "FromAsCasing": [
        ("FROM debian:12 as builder\n", [(1, "'as' and 'FROM' keywords' casing do not match")]),
        ("from debian:12 AS builder\n", [(1, "'AS' and 'from' keywords' casing do not match")]),
        ("FROM debian:12 AS builder\n", []),
        ("from debian:12 as builder\n", []),
        ("From debian:12 as builder\n", []),
    ],
    "NoEmptyContinuation": [
        (
            "FROM alpine\nRUN apk add \\\n\n    gnupg\n",
            [(4, "Empty continuation line")],
        ),
        ("FROM alpine\nRUN apk add \\\n    gnupg\n", []),
    ],
    "ConsistentInstructionCasing": [
        (
            "FROM alpine\nrun echo hello\nRUN echo again\n",
            [(2, "Command 'run' should match the case of the command majority (uppercase)")],
        ),
        (
            "from alpine\nrun echo hello\nRUN echo again\n",
            [(3, "Command 'RUN' should match the case of the command majority (lowercase)")],
        ),
        (
            "FROM alpine\nRun echo hello\n",
            [(2, "Command 'Run' should match the case of the command majority (uppercase)")],
        ),
        ("arg V=1\nFROM alpine\nRUN echo $V\n", []),
        ("FROM alpine\nRUN echo hello\n", []),
    ],
    "DuplicateStageName": [
        (
            "FROM debian:12 AS builder\nFROM golang:1.22 AS Builder\n",
            [(2, 'Duplicate stage name "builder", stage names should be unique')],
        ),
        ("FROM debian:12 AS deb-builder\nFROM golang:1.22 AS go-builder\n", []),
    ],
    "ReservedStageName": [
        (
            "FROM alpine AS scratch\nFROM alpine AS Context\n",
            [
                (1, 'Stage name should not use the same name as reserved stage "scratch"'),
                (2, 'Stage name should not use the same name as reserved stage "context"'),
            ],
        ),
        ("FROM alpine AS base\n", []),
    ],
    "JSONArgsRecommended": [
        (
            "FROM alpine\nENTRYPOINT my-server --port 80\ncmd serve\n",
            [
                (2, "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior "
                    "related to OS signals"),
                (3, "JSON arguments recommended for cmd to prevent unintended behavior related "
                    "to OS signals"),
            ],
        ),
        ('FROM alpine\nENTRYPOINT ["my-server", "--port", "80"]\n', []),
        ('FROM alpine\nSHELL ["/bin/bash", "-c"]\nENTRYPOINT echo hello\n', []),
        ('FROM alpine AS base\nSHELL ["/bin/sh", "-c"]\nFROM base\nCMD echo inherited\n', []),
        (
            'FROM alpine AS base\nSHELL ["/bin/sh", "-c"]\nFROM alpine\nCMD echo other\n',
            [(4, "JSON arguments recommended for CMD to prevent unintended behavior related to "
                 "OS signals")],
        ),
    ],
    "MaintainerDeprecated": [
        (
            "FROM alpine\nMAINTAINER Jane <jane@example.com>\n",
            [(2, "Maintainer instruction is deprecated in favor of using label")],
        ),
        ('FROM alpine\nLABEL org.opencontainers.image.authors="jane@example.com"\n', []),
    ],
    "UndefinedArgInFrom": [
        (
            "FROM node:${NODE_VERSION}-alpine\n",
            [(1, "FROM argument 'NODE_VERSION' is not declared")],
        ),
        (
            "ARG VERSION=1\nFROM alpine:${VERSON}\n",
            [(2, "FROM argument 'VERSON' is not declared (did you mean VERSION?)")],
        ),
        (
            "FROM --platform=$BUILDPLATFROM alpine\n",
            [(1, "FROM argument 'BUILDPLATFROM' is not declared (did you mean BUILDPLATFORM?)")],
        ),
        ("ARG NODE_VERSION=20\nFROM node:${NODE_VERSION}-alpine\n", []),
        ("ARG TAG\nFROM alpine:${TAG}\n", []),
        ("FROM --platform=$BUILDPLATFORM golang:1.22\nFROM alpine:$TARGETARCH\n", []),
        (
            "FROM alpine\nARG IN_STAGE=1\nFROM busybox:$IN_STAGE\n",
            [(3, "FROM argument 'IN_STAGE' is not declared")],
        ),
    ],
    "WorkdirRelativePath": [
        (
            "FROM alpine\nWORKDIR app\nWORKDIR sub\n",
            [(2, 'Relative workdir "app" can have unexpected results if the base image changes')],
        ),
        (
            "FROM alpine\nARG DIR=app\nWORKDIR $DIR\n",
            [(3, 'Relative workdir "app" can have unexpected results if the base image changes')],
        ),
        ("FROM alpine\nWORKDIR /app\nWORKDIR sub\n", []),
        ("FROM alpine AS base\nWORKDIR /app\nFROM base\nWORKDIR sub\n", []),
        ("FROM mcr.microsoft.com/windows/nanoserver\nWORKDIR C:\\\\app\n", []),
    ],
    "UndefinedVar": [
        (
            "FROM alpine\nCOPY $SRC /app/\n",
            [(2, "Usage of undefined variable '$SRC'")],
        ),
        (
            "FROM alpine\nENV PATH=$PAHT:/app/bin\n",
            [(2, "Usage of undefined variable '$PAHT' (did you mean $PATH?)")],
        ),
        (
            "FROM alpine\nARG VERSION=$foo\n",
            [(2, "Usage of undefined variable '$foo'")],
        ),
        (
            "ARG GLOBAL=1\nFROM alpine\nLABEL version=$GLOBAL\n",
            [(3, "Usage of undefined variable '$GLOBAL'")],
        ),
        (
            "FROM alpine\nENV A=1 B=$A\n",
            [(2, "Usage of undefined variable '$A'")],
        ),
        (
            "FROM alpine\nCOPY --chown=$USR:$USR a /b\nUSER ${NOBODY}\nWORKDIR $HOME_DIR\n",
            [
                (2, "Usage of undefined variable '$USR'"),
                (3, "Usage of undefined variable '$NOBODY'"),
                (4, "Usage of undefined variable '$HOME_DIR'"),
            ],
        ),
        ("FROM alpine\nARG SRC=.\nCOPY $SRC /app/\n", []),
        ("FROM alpine\nARG SRC\nCOPY $SRC /app/\n", []),
        ("ARG GLOBAL=1\nFROM alpine\nARG GLOBAL\nLABEL version=$GLOBAL\n", []),
        ("FROM alpine\nENV A=1\nENV B=$A\n", []),
        ("FROM alpine\nRUN echo $UNDEFINED_IN_SHELL\nCMD echo $ALSO_SHELL\n", []),
        ("FROM alpine AS base\nENV FROM_PARENT=1\nFROM base\nWORKDIR /x/$FROM_PARENT\n", []),
        ("FROM alpine\nARG A=1 B=$A\n", []),
        ("FROM alpine\nENV P=${PATH}:/x\n", []),
        ("FROM alpine\nARG BUILDKIT_SBOM_SCAN_STAGE=$BUILDKIT_SBOM_SCAN_CONTEXT\n", []),
        (
            "FROM alpine\nCOPY <<EOF /$DEST_DIR/\n$IN_BODY\nEOF\n",
            [
                (2, "Usage of undefined variable '$DEST_DIR'"),
                (2, "Usage of undefined variable '$IN_BODY'"),
            ],
        ),
        ("FROM alpine\nCOPY <<'EOF' /dest\n$QUOTED_DELIMITER\nEOF\n", []),
    ],
    "MultipleInstructionsDisallowed": [
        (
            'FROM alpine\nCMD ["echo", "one"]\nENTRYPOINT ["a"]\nCMD ["echo", "two"]\n'
            'HEALTHCHECK NONE\nHEALTHCHECK CMD true\n',
            [
                (2, "Multiple CMD instructions should not be used in the same stage because only "
                    "the last one will be used"),
                (5, "Multiple HEALTHCHECK instructions should not be used in the same stage "
                    "because only the last one will be used"),
            ],
        ),
        ('FROM alpine\nCMD ["one"]\nFROM alpine\nCMD ["two"]\n', []),
    ],
    "LegacyKeyValueFormat": [
        (
            "FROM alpine\nENV DEBUG true\nlabel maintainer jane\n",
            [
                (2, '"ENV key=value" should be used instead of legacy "ENV key value" format'),
                (3, '"label key=value" should be used instead of legacy "label key value" '
                    "format"),
            ],
        ),
        ("FROM alpine\nENV DEBUG=true\nLABEL a=b c=d\n", []),
    ],
    "RedundantTargetPlatform": [
        (
            "FROM --platform=$TARGETPLATFORM alpine\nFROM --platform=${TARGETPLATFORM} alpine\n",
            [
                (1, "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as "
                    "this is the default behavior"),
                (2, "Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as "
                    "this is the default behavior"),
            ],
        ),
        ("FROM --platform=$BUILDPLATFORM alpine\n", []),
        ("FROM alpine\n", []),
        ("FROM --platform=$TARGETOS/$TARGETARCH alpine\n", []),
    ],
    "SecretsUsedInArgOrEnv": [
        (
            "FROM alpine\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x aws_secret_key=y\n",
            [
                (2, 'Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN")'),
                (3, 'Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD")'),
                (3, "Do not use ARG or ENV instructions for sensitive data "
                    '(ENV "aws_secret_key")'),
            ],
        ),
        (
            "FROM alpine\nARG PUBLIC_KEY\nENV KEY_FILE=/run/k TOKEN_VERSION=2 MONKEY=1 "
            "AUTHOR=me\n",
            [],
        ),
        ("ARG GITHUB_TOKEN\nFROM alpine\n", []),
    ],
    "InvalidDefaultArgInFrom": [
        (
            "ARG TAG\nFROM busybox:${TAG}\n",
            [(2, "Default value for ARG busybox:${TAG} results in empty or invalid base image "
                 "name")],
        ),
        (
            "ARG IMAGE\nFROM $IMAGE\n",
            [(2, "Default value for ARG $IMAGE results in empty or invalid base image name")],
        ),
        (
            "ARG REPO=Library/Alpine\nFROM $REPO\n",
            [(2, "Default value for ARG $REPO results in empty or invalid base image name")],
        ),
        ("ARG TAG=1.36\nFROM busybox:${TAG}\n", []),
        ("ARG TAG\nFROM busybox:${TAG:-latest}\n", []),
        ("FROM alpine AS build\nARG X\nFROM build\n", []),
    ],
    "FromPlatformFlagConstDisallowed": [
        (
            "FROM --platform=linux/amd64 golang:1.22 AS builder\n",
            [(1, 'FROM --platform flag should not use constant value "linux/amd64"')],
        ),
        ("FROM --platform=$BUILDPLATFORM golang:1.22 AS builder\n", []),
        ("FROM --platform=linux/arm64 golang:1.22 AS build-arm64\n", []),
        ("FROM --platform=windows/amd64 mcr.microsoft.com/windows AS windows-build\n", []),
        ("FROM --platform=not/a/real/platform alpine\n", []),
    ],
    "ExposeProtoCasing": [
        (
            "FROM alpine\nEXPOSE 80/TcP 53/UDP 8080\n",
            [
                (2, "Defined protocol '80/TcP' in EXPOSE instruction should be lowercase"),
                (2, "Defined protocol '53/UDP' in EXPOSE instruction should be lowercase"),
            ],
        ),
        (
            "FROM alpine\nARG PROTO=TCP\nEXPOSE 443/$PROTO\n",
            [(3, "Defined protocol '443/TCP' in EXPOSE instruction should be lowercase")],
        ),
        ("FROM alpine\nEXPOSE 80/tcp 53/udp 9000\n", []),
        ("FROM alpine\nEXPOSE 80/BOGUS\n", []),
    ],
    "ExposeInvalidFormat": [
        (
            "FROM alpine\nEXPOSE 127.0.0.1:80:80 8080:80 [::1]:443:443\n",
            [
                (2, "EXPOSE instruction should not define an IP address or host-port mapping, "
                    "found '127.0.0.1:80:80'"),
                (2, "EXPOSE instruction should not define an IP address or host-port mapping, "
                    "found '8080:80'"),
                (2, "EXPOSE instruction should not define an IP address or host-port mapping, "
                    "found '[::1]:443:443'"),
            ],
        ),
        ("FROM alpine\nEXPOSE 80 443/tcp 8000-8010\n", []),
    ],
    "InvalidDefinitionDescription": [
        (
            "# check=experimental=InvalidDefinitionDescription\n"
            "# a non-descriptive comment\nFROM scratch AS base\n"
            "# another non-descriptive comment\nARG VERSION=1\n"
            "# neither\nARG A B\n",
            [
                (3, "Comment for FROM should follow the format: `# base <description>`"),
                (5, "Comment for ARG should follow the format: `# VERSION <description>`"),
                (7, "Comment for ARG should follow the format: `# <arg_key> <description>`"),
            ],
        ),
        (
            "# check=experimental=all\n# base is a stage for compiling source\n"
            "FROM scratch AS base\n# VERSION This is the version number.\nARG VERSION=1\n",
            [],
        ),
        (
            "# check=experimental=all\n# a non-descriptive comment\n\nFROM scratch AS base\n"
            "# another one\n#\nARG VERSION=1\n",
            [],
        ),
        ("# a non-descriptive comment\nFROM scratch AS base\n", []),
        ("# check=experimental=all\nARG VERSION=1\n# not about the unnamed stage\nFROM scratch\n", []),
    ],
}  # fmt: skip

TABLE = [
    pytest.param(code, text, expected, id=f"{code}-{index}")
    for code, cases in CASES.items()
    for index, (text, expected) in enumerate(cases)
]


def test_every_check_has_failing_and_passing_cases() -> None:
    covered = set(CASES) | {"CopyIgnoredFile"}
    assert covered == set(BY_CODE)
    for code, cases in CASES.items():
        assert any(expected for _, expected in cases), code
        assert any(not expected for _, expected in cases), code


@pytest.mark.parametrize(("code", "text", "expected"), TABLE)
def test_check(code: str, text: str, expected: list[tuple[int, str]]) -> None:
    assert run(code, text) == expected


# ---------------------------------------------------------------------------
# CopyIgnoredFile needs a build context


@pytest.fixture
def context(tmp_path: Path) -> Path:
    (tmp_path / ".dockerignore").write_text("*.env\nsecrets\n")
    (tmp_path / "prod.env").write_text("A=1\n")
    (tmp_path / "app.py").write_text("print()\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key").write_text("k\n")
    return tmp_path


def test_copy_ignored_file(context: Path) -> None:
    text = (
        "# check=experimental=CopyIgnoredFile\nFROM alpine\n"
        "COPY prod.env app.py ./secrets/key /app/\nADD ./prod.env https://example.com/x.env /\n"
        "COPY --from=other prod.env /x\nARG F=prod.env\nCOPY $F /y\n"
    )
    assert run("CopyIgnoredFile", text, context) == [
        (3, 'Attempting to Copy file "prod.env" that is excluded by .dockerignore'),
        (3, 'Attempting to Copy file "secrets/key" that is excluded by .dockerignore'),
        (4, 'Attempting to Add file "prod.env" that is excluded by .dockerignore'),
        (7, 'Attempting to Copy file "prod.env" that is excluded by .dockerignore'),
    ]


def test_copy_ignored_file_is_experimental(context: Path) -> None:
    text = "FROM alpine\nCOPY prod.env /app/\n"
    assert run("CopyIgnoredFile", text, context) == []
    assert run("CopyIgnoredFile", "# check=experimental=all\n" + text, context) == [
        (3, 'Attempting to Copy file "prod.env" that is excluded by .dockerignore')
    ]
    assert run("CopyIgnoredFile", "# check=experimental=a;b\n" + text, context) == []


def test_copy_ignored_file_needs_a_context(context: Path) -> None:
    text = "# check=experimental=all\nFROM alpine\nCOPY prod.env /app/\n"
    assert run("CopyIgnoredFile", text, None) == []
    assert run("CopyIgnoredFile", text, context / "missing") == []


def test_copy_ignored_file_skips_files_with_exceptions(context: Path) -> None:
    (context / ".dockerignore").write_text("*.env\n!dev.env\n")
    text = "# check=experimental=all\nFROM alpine\nCOPY prod.env /app/\n"
    assert run("CopyIgnoredFile", text, context) == []


def test_copy_ignored_file_with_a_broken_ignore_file(context: Path) -> None:
    (context / ".dockerignore").write_text("[\n")
    text = "# check=experimental=all\nFROM alpine\nCOPY prod.env /app/\n"
    assert run("CopyIgnoredFile", text, context) == []


# ---------------------------------------------------------------------------
# Snapshots of whole files


SNAPSHOT_FIXTURES = [
    ("buildkit-checks", "Dockerfile"),
    ("node-app", "Dockerfile"),
    ("dockerfile-ignore", "app.Dockerfile"),
    ("clean", "Dockerfile"),
]


@pytest.mark.parametrize(("directory", "name"), SNAPSHOT_FIXTURES)
def test_fixture_findings(directory: str, name: str, snapshot: SnapshotAssertion) -> None:
    root = FIXTURES / directory
    path = root / name
    dockerfile = parse(path.read_text(encoding="utf-8"), str(path))
    ctx = build_context(dockerfile, RuleSettings(context_dir=root))
    assert findings_json(ctx, RULES) == snapshot


def test_clean_fixture_has_no_findings() -> None:
    root = FIXTURES / "clean"
    dockerfile = parse((root / "Dockerfile").read_text(), str(root / "Dockerfile"))
    ctx = build_context(dockerfile, RuleSettings(context_dir=root))
    assert findings_json(ctx, RULES) == "[]"
