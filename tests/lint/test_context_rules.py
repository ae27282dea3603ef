"""The rules that read the build context (PB1001-PB1006).

Each table row builds a small context in a temporary directory (`files`: a
path ending in `/` is a directory), lints a Dockerfile against it and lists
the exact findings `(line, message)`; an empty list is a passing case.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

import builder.lint.rules.context as context_rules
from builder.dockerfile.parser import parse
from builder.lint.model import LintContext, Rule, RuleSettings, Severity, build_context
from builder.lint.rules.context import RULES
from builder.lint.rules.context._support import glob_context, reference_pattern
from tests.lint.findings import findings_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "lint-context"
BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}

Files = dict[str, str]


def make_context(root: Path, files: Files) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    return root


def lint(root: Path | None, text: str, name: str = "Dockerfile") -> LintContext:
    path = str(root / name) if root is not None else name
    return build_context(parse(text, path), RuleSettings(context_dir=root))


def run(code: str, root: Path | None, text: str, name: str = "Dockerfile") -> list[tuple[int, str]]:
    rule = BY_CODE[code]
    return [(v.line, v.message or rule.message) for v in rule.check(lint(root, text, name))]


# ---------------------------------------------------------------------------
# The rule set


def test_rule_set() -> None:
    assert [(rule.code, rule.severity) for rule in RULES] == [
        ("PB1001", Severity.WARNING),
        ("PB1002", Severity.WARNING),
        ("PB1003", Severity.ERROR),
        ("PB1004", Severity.INFO),
        ("PB1005", Severity.INFO),
        ("PB1006", Severity.INFO),
    ]


def test_every_rule_module_documents_itself() -> None:
    names = [
        m.name for m in pkgutil.iter_modules(context_rules.__path__) if not m.name.startswith("_")
    ]
    assert len(names) == len(RULES)
    for name in names:
        module = importlib.import_module(f"builder.lint.rules.context.{name}")
        doc = module.__doc__ or ""
        assert doc.startswith(module.CODE + ":"), name
        assert "Bad" in doc and "Good" in doc, name
        assert module.RULE in RULES


EVERYTHING_WRONG = """\
ARG UNUSED=1
FROM alpine AS late-user
COPY --from=later /x /y
FROM alpine AS later
FROM alpine AS unused
FROM node:20
ARG NEVER
COPY . .
RUN npm ci
COPY missing.txt secret.env /app/
"""


def test_rules_do_nothing_without_a_context(tmp_path: Path) -> None:
    root = make_context(tmp_path / "ctx", {".dockerignore": "*.env\n", "secret.env": "x\n"})
    with_context = [v for rule in RULES for v in rule.check(lint(root, EVERYTHING_WRONG))]
    assert {v.line for v in with_context} >= {1, 3, 4, 5, 7, 8, 10}
    for rule in RULES:
        assert list(rule.check(lint(None, EVERYTHING_WRONG))) == [], rule.code
        assert list(rule.check(lint(tmp_path / "missing", EVERYTHING_WRONG))) == [], rule.code


# ---------------------------------------------------------------------------
# One table per rule: (context files, Dockerfile, expected findings)

CASES: dict[str, list[tuple[Files, str, list[tuple[int, str]]]]] = {
    "PB1001": [
        (
            {"app.py": ""},
            "FROM python:3.12\nCOPY requirements.txt app.py /app/\n",
            [(2, "COPY source 'requirements.txt' does not exist in the build context; the build "
                 "fails with 'not found'")],
        ),
        (
            {"src/": ""},
            "FROM alpine\nADD src/missing.tar.gz /opt/\nCOPY config/*.yml lib/?.so /etc/\n",
            [
                (2, "ADD source 'src/missing.tar.gz' does not exist in the build context; the "
                    "build fails with 'not found'"),
                (3, "COPY source 'config/*.yml' matches nothing in the build context, so the "
                    "instruction copies nothing"),
                (3, "COPY source 'lib/?.so' matches nothing in the build context, so the "
                    "instruction copies nothing"),
            ],
        ),
        (
            {},
            "FROM alpine\nARG SRC=dist\nCOPY $SRC/app /app\n",
            [(3, "COPY source '$SRC/app' (resolves to 'dist/app') does not exist in the build "
                 "context; the build fails with 'not found'")],
        ),
        (
            {"app.py": "", "config/a.yml": "", "lib/x.so": "", "src/main.go": ""},
            "FROM alpine\nCOPY app.py ./config/*.yml lib/?.so /app/\nCOPY ../../src /src\n"
            "COPY /app.py . / /x/\nCOPY [\"app.py\", \"/y\"]\n",
            [],
        ),
        (
            {},
            "FROM alpine\nCOPY poetry.lock* ./\nCOPY --from=build /missing /x\n"
            "ADD https://example.com/a.tgz git@github.com:a/b.git /opt/\n"
            "ARG FROM_BUILD_ARG\nCOPY $FROM_BUILD_ARG /x\nCOPY <<EOF /etc/conf\nx\nEOF\n",
            [],
        ),
        ({".dockerignore": "*.env\n"}, "FROM alpine\nCOPY missing.env /x\n", []),
        ({"[": ""}, "FROM alpine\nCOPY [ /x\n", []),
    ],
    "PB1002": [
        (
            {".dockerignore": "*.env\nsecrets/\n", "prod.env": "", "secrets/key": "", "ok": ""},
            "FROM alpine\nCOPY prod.env ok /app/\nCOPY secrets/key /k\nADD ./secrets /s\n",
            [
                (2, "COPY source 'prod.env' is excluded by .dockerignore (line 1: '*.env'): it "
                    "is not sent to the builder, so the build cannot find it"),
                (3, "COPY source 'secrets/key' is excluded by .dockerignore (line 2: 'secrets'):"
                    " it is not sent to the builder, so the build cannot find it"),
                (4, "ADD source './secrets' is excluded by .dockerignore (line 2: 'secrets'): it "
                    "is not sent to the builder, so the build cannot find it"),
            ],
        ),
        (
            {".dockerignore": "logs/*.log\n", "logs/a.log": "", "logs/b.log": ""},
            "FROM alpine\nCOPY logs /logs\nCOPY logs/*.log /l/\n",
            [
                (2, "COPY source 'logs' is a directory whose whole content is excluded by "
                    ".dockerignore (line 1: 'logs/*.log'), so it copies an empty directory"),
                (3, "COPY source 'logs/*.log' only matches paths excluded by .dockerignore "
                    "(line 1: 'logs/*.log'), so the instruction copies nothing"),
            ],
        ),
        (
            {".dockerignore": "node_modules/**\n", "node_modules/x/index.js": ""},
            "FROM alpine\nCOPY node_modules /n\n",
            [(2, "COPY source 'node_modules' is a directory whose whole content is excluded by "
                 ".dockerignore (line 1: 'node_modules/**'), so it copies an empty directory")],
        ),
        (
            {
                ".dockerignore": "docs\n!docs/README.md\n*.env\n!prod.env\n",
                "docs/README.md": "",
                "docs/guide.md": "",
                "prod.env": "",
                "logs/a.log": "",
                "empty/": "",
            },
            "FROM alpine\nCOPY docs /docs\nCOPY prod.env /x\nCOPY docs/README.md logs empty /y/\n"
            "COPY --from=other docs/guide.md /z\nCOPY . /all\n",
            [],
        ),
        (
            {".dockerignore": "*.md\n", "a.md": "", "b.txt": ""},
            "FROM alpine\nCOPY *.md /x/\nCOPY *.txt *.md /y/\n",
            [
                (2, "COPY source '*.md' only matches paths excluded by .dockerignore (line 1: "
                    "'*.md'), so the instruction copies nothing"),
                (3, "COPY source '*.md' only matches paths excluded by .dockerignore (line 1: "
                    "'*.md'), so the instruction copies nothing"),
            ],
        ),
        ({"prod.env": ""}, "FROM alpine\nCOPY prod.env /x\n", []),
        ({".dockerignore": "[\n", "prod.env": ""}, "FROM alpine\nCOPY prod.env /x\n", []),
    ],
    "PB1003": [
        (
            {},
            "FROM alpine AS final\nCOPY --from=build /out /app\nFROM golang:1.22 AS build\n",
            [(2, "COPY --from=build names stage 'build', which is defined later (line 3); "
                 "BuildKit fails: a stage must be defined before the instruction that uses it")],
        ),
        (
            {},
            "FROM alpine AS app\nCOPY --from=app /a /b\nCOPY --from=0 /a /b\n"
            "RUN --mount=type=cache,from=APP,target=/x true\n",
            [
                (2, "COPY --from=app names stage 'app', the stage it is in; BuildKit fails "
                    "with a circular dependency"),
                (3, "COPY --from=0 names stage 'app', the stage it is in; BuildKit fails with "
                    "a circular dependency"),
                (4, "RUN --mount from=APP names stage 'app', the stage it is in; BuildKit "
                    "fails with a circular dependency"),
            ],
        ),
        (
            {},
            "FROM alpine\nCOPY --from=1 /a /b\nCOPY --from=7 /a /b\nFROM alpine\n",
            [
                (2, "COPY --from=1 names stage 1, which is defined later (line 4); BuildKit "
                    "fails: a stage must be defined before the instruction that uses it"),
                (3, "COPY --from=7 names stage index 7, but the file has only 2 stage(s); "
                    "BuildKit fails with 'invalid stage index'"),
            ],
        ),
        (
            {},
            "FROM golang:1.22 AS builder\nFROM alpine\nCOPY --from=buidler /out /app\n"
            'RUN --mount=type=bind,"from=bulder",target=/b true\n',
            [
                (3, "COPY --from=buidler: no stage 'buidler' before line 3; it will be pulled "
                    "as an image (did you mean 'builder'?)"),
                (4, "RUN --mount from=bulder: no stage 'bulder' before line 4; it will be pulled "
                    "as an image (did you mean 'builder'?)"),
            ],
        ),
        (
            {},
            "FROM golang:1.22 AS builder\nFROM alpine AS code\nCOPY --from=builder /out /app\n"
            "COPY --from=node /usr/local/bin/node /n\nCOPY --from=0 /out /app\nCOPY --from=nginx:1.25 /etc/nginx /n\nCOPY --from=busybox"
            " /bin/sh /sh\nRUN --mount=type=bind,from=builder,target=/b true\n"
            "RUN --mount=type=secret,id=x true\nARG STAGE=builder\nCOPY --from=$STAGE /a /b\n",
            [],
        ),
    ],
    "PB1004": [
        (
            {},
            "FROM golang:1.22 AS build\nRUN go build -o /out/app .\nFROM alpine AS test\n"
            "FROM busybox\nFROM alpine\nCOPY app /usr/local/bin/\n",
            [
                (1, "stage 'build' is not used by the final stage (stage 3); it is only built "
                    "with --target build"),
                (3, "stage 'test' is not used by the final stage (stage 3); it is only built "
                    "with --target test"),
                (4, "stage 2 is not used by the final stage (stage 3) and has no name, so no "
                    "--target can build it"),
            ],
        ),
        (
            {},
            "FROM golang:1.22 AS build\nFROM build AS test\nFROM alpine AS assets\n"
            "FROM alpine AS final\nCOPY --from=test /a /b\n"
            "RUN --mount=from=assets,target=/s true\n",
            [],
        ),
        (
            {},
            "ARG BASE=build\nFROM golang:1.22 AS build\nFROM ${BASE} AS release\n",
            [],
        ),
        ({}, "FROM alpine\n", []),
    ],
    "PB1005": [
        (
            {},
            "ARG UNUSED=1\nFROM alpine\nARG VERSION=1.2\nRUN wget https://example.com/tool.tgz\n",
            [
                (1, "ARG UNUSED is declared before the first FROM, but no FROM line uses it and "
                    "no stage declares it again (only FROM lines see such an ARG)"),
                (3, "ARG VERSION is declared but never used"),
            ],
        ),
        (
            {},
            'FROM alpine\nARG PORT=8080\nCMD ["serve", "--port", "$PORT"]\n',
            [(2, "ARG PORT is only referenced by CMD on line 3, which runs in the container "
                 "where ARG values do not exist; use ENV to keep the value")],
        ),
        (
            {},
            "FROM alpine\nRUN echo $LATE\nARG LATE\nARG ESCAPED\nRUN echo \\$ESCAPED\n",
            [
                (3, "ARG LATE is declared but never used"),
                (4, "ARG ESCAPED is declared but never used"),
            ],
        ),
        (
            {},
            "ARG VERSION=1\nARG BASE=alpine:$VERSION\nARG TAG\nARG SHARED\nFROM $BASE\n"
            "ARG SHARED\nARG A B=$A\nRUN echo ${B:-none} $SHARED\nARG DEBIAN_FRONTEND=noninteractive\n"
            "ARG BUILDKIT_INLINE_CACHE=1\nARG PIP_INDEX_URL\nRUN apt-get install -y python3\n"
            "ARG IN_HEREDOC\nRUN <<EOF\necho $IN_HEREDOC\nEOF\nARG IN_ENV\nENV X=${IN_ENV}\n"
            "ARG IN_FLAG\nCOPY --chown=$IN_FLAG a /b\nFROM alpine:$TAG\n",
            [],
        ),
        (
            {},
            "FROM alpine AS base\nARG INHERITED=1\nFROM base\nRUN echo $INHERITED\n",
            [],
        ),
        (
            {},
            "FROM alpine\nARG DEBIAN_FRONTEND=noninteractive\n",
            [(2, "ARG DEBIAN_FRONTEND is declared but never used")],
        ),
        (
            {},
            "FROM python:3.12\nARG PYTHON_VERSION=3.12\nARG PYTHONDONTWRITEBYTECODE=1\n"
            "RUN pip install flask\n",
            [(2, "ARG PYTHON_VERSION is declared but never used")],
        ),
    ],
    "PB1006": [
        (
            {},
            "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\nRUN npm run build\n",
            [(3, "COPY copies the whole build context before the dependency install on line 4 "
                 "(npm ci): any change to any file re-runs it; copy package.json and "
                 "package-lock.json first, install, then copy the rest")],
        ),
        (
            {},
            "FROM debian:12\nadd ./ /src\nRUN apt-get update && apt-get install -y gcc\n",
            [(2, "ADD copies the whole build context before the dependency install on line 3 "
                 "(apt-get install): any change to any file re-runs it; install system packages "
                 "before copying the sources: they do not need them")],
        ),
        (
            {},
            "FROM python:3.12\nCOPY . /app\nRUN <<EOF\npip3 install -r /app/requirements.txt\nEOF\n",
            [(2, "COPY copies the whole build context before the dependency install on line 3 "
                 "(pip3 install): any change to any file re-runs it; copy requirements*.txt (or "
                 "pyproject.toml) first, install, then copy the rest")],
        ),
        (
            {},
            "FROM golang:1.22\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\n"
            "RUN go build ./...\n",
            [],
        ),
        (
            {},
            "FROM node:20 AS deps\nCOPY . .\nFROM node:20\nRUN npm ci\n"
            "COPY --from=deps . .\nRUN yarn install\n",
            [],
        ),
    ],
}  # fmt: skip

TABLE = [
    pytest.param(code, files, text, expected, id=f"{code}-{index}")
    for code, cases in CASES.items()
    for index, (files, text, expected) in enumerate(cases)
]


def test_every_rule_has_failing_and_passing_cases() -> None:
    assert set(CASES) == set(BY_CODE)
    for code, cases in CASES.items():
        assert any(expected for _, _, expected in cases), code
        assert any(not expected for _, _, expected in cases), code


@pytest.mark.parametrize(("code", "files", "text", "expected"), TABLE)
def test_rule(
    code: str, files: Files, text: str, expected: list[tuple[int, str]], tmp_path: Path
) -> None:
    root = make_context(tmp_path / "ctx", files)
    assert run(code, root, text) == expected


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    root = make_context(
        tmp_path / "ctx",
        {
            ".dockerignore": "src\n",
            "app.Dockerfile.dockerignore": "out/\n",
            "src/main.go": "",
            "out/app.bin": "",
        },
    )
    text = "FROM alpine\nCOPY src/main.go out/app.bin /x/\n"
    assert run("PB1002", root, text, "app.Dockerfile") == [
        (2, "COPY source 'out/app.bin' is excluded by app.Dockerfile.dockerignore (line 1: "
            "'out'): it is not sent to the builder, so the build cannot find it"),
    ]  # fmt: skip
    assert run("PB1002", root, text, "Dockerfile") == [
        (2, "COPY source 'src/main.go' is excluded by .dockerignore (line 1: 'src'): it is not "
            "sent to the builder, so the build cannot find it"),
    ]  # fmt: skip


def test_installer_patterns() -> None:
    from builder.lint.rules.context.cache_hostile_copy import INSTALLERS

    commands = {
        "apt-get -y --no-install-recommends install curl": True,
        "apt install -y curl": True,
        "apk --no-cache add curl": True,
        "dnf -y install gcc": True,
        "npm i": True,
        "yarn": True,
        "yarn --frozen-lockfile": True,
        "pnpm install --frozen-lockfile": True,
        "python -m pip install .": True,
        "poetry install --no-root": True,
        "pipenv sync": True,
        "uv sync --frozen": True,
        "go mod download": True,
        "bundle install": True,
        "composer install": True,
        "cargo fetch": True,
        "mvn -B dependency:go-offline": True,
        "dotnet restore": True,
        "mix deps.get": True,
        "gem install bundler": True,
        "npm run build": False,
        "yarn build": False,
        "pipenv --version": False,
        "go build ./...": False,
        "apt-get update": False,
        "echo install": False,
    }
    for command, expected in commands.items():
        found = any(pattern.search(command) for pattern, _, _ in INSTALLERS)
        assert found is expected, command


# ---------------------------------------------------------------------------
# Helpers


def test_glob_context(tmp_path: Path) -> None:
    root = make_context(
        tmp_path,
        {
            "a.txt": "",
            "b.txt": "",
            ".hidden.txt": "",
            "c.md": "",
            "sub/x.txt": "",
            "sub/deeper/y.txt": "",
            "other/x.txt": "",
            "star*.txt": "",
        },
    )
    assert glob_context(root, "*.txt") == [".hidden.txt", "a.txt", "b.txt", "star*.txt"]
    assert glob_context(root, "*/x.txt") == ["other/x.txt", "sub/x.txt"]
    assert glob_context(root, "sub/*") == ["sub/deeper", "sub/x.txt"]
    assert glob_context(root, "sub/*/y.txt") == ["sub/deeper/y.txt"]
    assert glob_context(root, "star\\*.txt") == ["star*.txt"]
    assert glob_context(root, "[ab].txt") == ["a.txt", "b.txt"]
    assert glob_context(root, "missing/*.txt") == []
    assert glob_context(root, "*.nothing") == []
    assert glob_context(root, "[") is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("echo $NAME", True),
        ("echo ${NAME}", True),
        ("echo ${NAME:-x}", True),
        ("echo ${NAME#pre}", True),
        ("echo $NAME/sub", True),
        ("echo $NAMES", False),
        ("echo ${NAMES}", False),
        ("echo \\$NAME", False),
        ("echo NAME", False),
        ("echo $OTHER_NAME", False),
    ],
)
def test_reference_pattern(text: str, found: bool) -> None:
    assert bool(reference_pattern("NAME").search(text)) is found


def test_reference_pattern_with_backtick_escape() -> None:
    assert not reference_pattern("NAME", "`").search("echo `$NAME")
    assert reference_pattern("NAME", "`").search("echo \\$NAME")


# ---------------------------------------------------------------------------
# Snapshots of the fixture contexts


@pytest.mark.parametrize(
    ("directory", "name"),
    [
        ("node-app", "Dockerfile"),
        ("dockerfile-ignore", "app.Dockerfile"),
        ("buildkit-checks", "Dockerfile"),
        ("clean", "Dockerfile"),
    ],
)
def test_fixture_findings(directory: str, name: str, snapshot: SnapshotAssertion) -> None:
    root = FIXTURES / directory
    path = root / name
    ctx = build_context(
        parse(path.read_text(encoding="utf-8"), str(path)), RuleSettings(context_dir=root)
    )
    assert findings_json(ctx, RULES) == snapshot
