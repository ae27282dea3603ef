"""Build secrets: `pybuild build --secret ...` and reading a secret's bytes.

The option takes buildx's CSV syntax: `id=ID`, `src=`/`source=` a file,
`env=` an environment variable, `type=file|env` (with `type=env`, `src=`
names the variable). A bare `id=ID` reads the environment variable `ID` when
it is set, else the file `ID`, as BuildKit's secrets provider does. As in
BuildKit a secret is at most 500 KiB.

A secret's value is never part of a message, a log line or a cache key:
errors name the id and where the value was to come from, nothing more.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.dockerfile.mounts import split_csv
from builder.errors import BuildError, UsageError

MAX_SECRET_SIZE = 500 * 1024  #: BuildKit's limit
SECRET_SYNTAX = "--secret id=ID,src=FILE or --secret id=ID,env=VARIABLE"


@dataclass(frozen=True)
class SecretSource:
    """Where the value of the secret `id` comes from: a file or an environment variable."""

    id: str
    path: Path | None = None
    env: str | None = None

    def describe(self) -> str:
        """`file /x/y` or `environment variable NAME`: for messages."""
        return f"file {self.path}" if self.path is not None else f"environment variable {self.env}"


def parse_secret_option(
    text: str, environ: Mapping[str, str] | None = None
) -> tuple[str, SecretSource]:
    """Parse one `--secret` value into (id, source); UsageError when it is malformed.

    Relative file paths are made absolute (from the current directory); a
    file must exist and be at most MAX_SECRET_SIZE bytes, as buildx checks.
    """
    env_now = os.environ if environ is None else environ
    try:
        fields = split_csv(text)
    except ValueError as exc:
        raise UsageError(f"invalid --secret {text!r}: {exc}", hint=SECRET_SYNTAX) from None
    kind = secret_id = path = env = ""
    for item in fields:
        key, eq, value = item.partition("=")
        key = key.lower()
        if not eq:
            raise UsageError(
                f"invalid --secret field {item!r}: it must be a key=value pair", hint=SECRET_SYNTAX
            )
        if key == "type":
            if value not in ("file", "env"):
                raise UsageError(f'unsupported secret type "{value}": use file or env')
            kind = value
        elif key == "id":
            secret_id = value
        elif key in ("src", "source"):
            path = value
        elif key == "env":
            env = value
        else:
            raise UsageError(f"unexpected key '{key}' in --secret {text!r}", hint=SECRET_SYNTAX)
    if kind == "env" and not env:
        env, path = path, ""
    if not secret_id:
        raise UsageError(f"--secret {text!r} has no id", hint=SECRET_SYNTAX)
    if not path and not env:
        if kind != "file" and secret_id in env_now:
            env = secret_id
        else:
            path = secret_id
    if env:
        return secret_id, SecretSource(secret_id, env=env)
    file = Path(path).absolute()
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise UsageError(
            f"secret {secret_id}: cannot read {file}: {exc.strerror or exc}",
            hint="give an existing file with src=, or a variable with env=",
        ) from None
    if size > MAX_SECRET_SIZE:
        raise UsageError(f"secret {secret_id} is too big: the maximum is 500 KiB")
    return secret_id, SecretSource(secret_id, path=file)


def read_secret(source: SecretSource, environ: Mapping[str, str] | None = None) -> bytes:
    """The secret's bytes now; BuildError (naming the id, never the value) when unreadable."""
    if source.env is not None:
        env_now = os.environ if environ is None else environ
        value = env_now.get(source.env)
        if value is None:
            raise BuildError(
                f"secret {source.id}: environment variable {source.env} is not set",
                hint=f"export {source.env} before the build, or give the secret with src=FILE",
            )
        data = os.fsencode(value)
    else:
        assert source.path is not None
        try:
            with open(source.path, "rb") as file:
                data = file.read(MAX_SECRET_SIZE + 1)
        except OSError as exc:
            raise BuildError(
                f"secret {source.id}: cannot read {source.path}: {exc.strerror or exc}"
            ) from None
    if len(data) > MAX_SECRET_SIZE:
        raise BuildError(f"secret {source.id} is too big: the maximum is 500 KiB")
    return data
