"""DL3064: Potentially sensitive data should not be used in the ARG or ENV commands.

ARG and ENV values are stored in the image metadata (`docker history`,
`docker inspect`) for anyone who can pull it. Pass secrets with
`RUN --mount=type=secret` instead. Reported: well-known secret names
(`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`...) and names containing
`password`, `secret`, `token`, `api_key`, `client_key`, `private` or
`username`.

Fails:

    FROM debian:12
    ARG GITHUB_TOKEN

Passes:

    FROM debian:12
    ARG APP_VERSION
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3064"
MESSAGE: Final = "Potentially sensitive data should not be used in the `ARG` or `ENV` commands"
KNOWN_NAMES: Final = frozenset(
    {
        "ACCESS_TOKEN", "APPLICATION_KEY", "APP_SECRET", "AUTH_TOKEN", "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY", "BITTREX_API_KEY", "BITTREX_API_SECRET", "CF_PASSWORD",
        "CF_USERNAME", "CIRCLE_TOKEN", "CI_DEPLOY_PASSWORD", "CI_DEPLOY_USER",
        "DOCKERHUB_PASSWORD", "DOCKER_EMAIL", "DOCKER_PASSWORD", "DOCKER_USERNAME",
        "FACEBOOK_ACCESS_TOKEN", "FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET", "FIREBASE_API_TOKEN",
        "FIREBASE_TOKEN", "FOSSA_API_KEY", "GH_ENTERPRISE_TOKEN", "GH_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN", "GITHUB_TOKEN", "HEROKU_API_KEY", "HEROKU_API_USER",
        "NPM_AUTH_TOKEN", "NPM_TOKEN", "OKTA_AUTHN_GROUPID", "OKTA_CLIENT_ORGURL",
        "OKTA_CLIENT_TOKEN", "OKTA_OAUTH2_CLIENTID", "OKTA_OAUTH2_CLIENTSECRET", "OPENAI_API_KEY",
        "OS_PASSWORD", "OS_USERNAME", "POSTGRES_PASSWORD", "SLACK_TOKEN", "STRIPE_API_KEY",
        "STRIPE_DEVICE_NAME", "TRAVIS_OS_NAME", "TRAVIS_SECURE_ENV_VARS", "TRAVIS_SUDO",
        "VAULT_CLIENT_KEY", "VAULT_TOKEN",
    }
)  # fmt: skip
SUSPICIOUS: Final = ("api_key", "client_key", "password", "private", "secret", "token", "username")


def is_sensitive(name: str) -> bool:
    lower = name.lower()
    return name.upper() in KNOWN_NAMES or any(s in lower for s in SUSPICIOUS)


def _ok(inst: Instruction) -> bool:
    if inst.keyword == "arg":
        return not is_sensitive(c.arg_name(inst))
    if inst.keyword == "env":
        return not any(is_sensitive(k) for k, _ in c.pairs(inst))
    return True


def check(ctx: LintContext) -> Iterator[Violation]:
    return c.simple_with_onbuild(ctx, _ok)


RULE: Final = Rule(CODE, Severity.WARNING, MESSAGE, check, c.url(CODE))
