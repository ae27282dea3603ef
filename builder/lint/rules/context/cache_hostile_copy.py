"""PB1006: `COPY .` before installing dependencies defeats the layer cache.

A step's cache key includes everything copied before it. When the whole
build context is copied before `npm ci`, `pip install -r requirements.txt`
or `apt-get install`, editing any file re-runs the install. Copy only the
dependency manifests first (or install system packages before copying the
sources), install, then copy the rest.

Bad::

    FROM node:20
    WORKDIR /app
    COPY . .
    RUN npm ci

Good::

    FROM node:20
    WORKDIR /app
    COPY package.json package-lock.json ./
    RUN npm ci
    COPY . .
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from builder.context.dockerignore import go_clean
from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.buildkit._common import copy_sources
from builder.lint.rules.context._support import context_dir

CODE = "PB1006"

_FLAGS = r"(?:\s+-{1,2}[\w.=:/-]+)*"
_SYSTEM = "install system packages before copying the sources: they do not need them"
#: (pattern, the tool, the advice); the message quotes the command as written
INSTALLERS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), label, advice)
    for pattern, label, advice in (
        (rf"\bapt(?:-get)?\b{_FLAGS}\s+install\b", "apt-get install", _SYSTEM),
        (rf"\bapk\b{_FLAGS}\s+add\b", "apk add", _SYSTEM),
        (rf"\b(?:yum|dnf|microdnf|zypper)\b{_FLAGS}\s+install\b", "package install", _SYSTEM),
        (r"\bnpm\s+(?:ci|install|i)\b", "npm install", "copy package.json and package-lock.json"),
        (
            r"\byarn(?:\s+install\b|\s+--(?:frozen|pure)-lockfile\b|\s*(?:$|&&|;|\|))",
            "yarn install",
            "copy package.json and yarn.lock",
        ),
        (r"\bpnpm\s+(?:install|i)\b", "pnpm install", "copy package.json and pnpm-lock.yaml"),
        (
            rf"\bpip[0-9.]*\b{_FLAGS}\s+install\b",
            "pip install",
            "copy requirements*.txt (or pyproject.toml)",
        ),
        (r"\bpoetry\s+install\b", "poetry install", "copy pyproject.toml and poetry.lock"),
        (r"\bpipenv\s+(?:install|sync)\b", "pipenv install", "copy Pipfile and Pipfile.lock"),
        (r"\buv\s+(?:sync|pip\s+install)\b", "uv sync", "copy pyproject.toml and uv.lock"),
        (r"\bgo\s+mod\s+download\b", "go mod download", "copy go.mod and go.sum"),
        (r"\bbundle\s+install\b", "bundle install", "copy Gemfile and Gemfile.lock"),
        (r"\bcomposer\s+install\b", "composer install", "copy composer.json and composer.lock"),
        (r"\bcargo\s+fetch\b", "cargo fetch", "copy Cargo.toml and Cargo.lock"),
        (r"\bmvn\b[^\n]*\bdependency:(?:go-offline|resolve)\b", "mvn dependency", "copy pom.xml"),
        (r"\bdotnet\s+restore\b", "dotnet restore", "copy the project files (*.csproj)"),
        (r"\bmix\s+deps\.get\b", "mix deps.get", "copy mix.exs and mix.lock"),
        (r"\b(?:gem|conda|mamba)\s+install\b", "package install", _SYSTEM),
    )
)


def _whole_context(inst: Instruction) -> bool:
    if inst.keyword not in ("copy", "add") or inst.get_flag("from") is not None:
        return False
    return any(go_clean("/" + word) == "/" for word in copy_sources(inst))


def _installer(inst: Instruction) -> tuple[str, str] | None:
    if inst.keyword != "run":
        return None
    text = " ".join(inst.args) + "".join("\n" + doc.content for doc in inst.heredocs)
    for pattern, _, advice in INSTALLERS:
        found = pattern.search(text)
        if found:
            return " ".join(found.group(0).split()).rstrip(";&|"), advice
    return None


def check(ctx: LintContext) -> Iterator[Violation]:
    if context_dir(ctx) is None:
        return
    for stage in ctx.stages:
        for position, inst in enumerate(stage.instructions):
            if not _whole_context(inst):
                continue
            for later in stage.instructions[position + 1 :]:
                found = _installer(later)
                if found is None:
                    continue
                label, advice = found
                if advice != _SYSTEM:
                    advice = f"{advice} first, install, then copy the rest"
                yield Violation(
                    inst.start_line,
                    f"{inst.written_keyword.upper()} copies the whole build context before the "
                    f"dependency install on line {later.start_line} ({label}): any change to "
                    f"any file re-runs it; {advice}",
                )
                break


RULE = Rule(
    CODE,
    Severity.INFO,
    "COPY of the whole context before a dependency install invalidates its cache",
    check,
)
