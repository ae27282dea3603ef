"""Registry credentials from docker's config file and credential helpers.

The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`:

    {"auths": {"registry:5000": {"auth": "<base64 user:password>"},
               "https://index.docker.io/v1/": {"identitytoken": "..."}},
     "credHelpers": {"registry:5000": "pass"}, "credsStore": "secretservice"}

A helper is the program `docker-credential-NAME`, run with `get`, `store` or
`erase`; it reads the server URL (or a JSON record) on stdin and answers JSON
on stdout. Docker Hub's entry is keyed `https://index.docker.io/v1/`.
Writing keeps every key pybuild does not know, mode 0600, atomically.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.registry.errors import CredentialsError, printable

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HELPER_TIMEOUT = 60.0
_TOKEN_USER = "<token>"  # a helper's Username for an identity token


@dataclass(frozen=True)
class Credentials:
    """What to authenticate with: a user and password, or an identity (refresh) token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never print secrets
        kind = "identity token" if self.identity_token else "password"
        return f"Credentials(username={self.username!r}, {kind}=<hidden>)"

    @property
    def has_basic(self) -> bool:
        return bool(self.username) and bool(self.password)


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where docker keeps its client config (honours $DOCKER_CONFIG)."""
    env = os.environ if env is None else env
    directory = env.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path(env.get("HOME") or Path.home()) / ".docker" / "config.json"


def credential_key(registry: str) -> str:
    """The key a registry's credentials are kept under (Docker Hub's is a URL)."""
    return DOCKER_HUB_KEY if normalize_key(registry) == "docker.io" else registry


def normalize_key(key: str) -> str:
    """`https://host:5000/v2/` -> `host:5000`; every Docker Hub spelling -> `docker.io`."""
    host = key.strip()
    for prefix in ("https://", "http://"):
        if host.lower().startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0].lower()
    return "docker.io" if host in _DOCKER_HUB_HOSTS else host


# -- the config file ---------------------------------------------------------------------


def load_config(path: Path) -> dict[str, Any]:
    """The parsed config file; {} when there is none."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise CredentialsError(f"cannot read {path}: {err.strerror}") from None
    if not text.strip():
        return {}
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise CredentialsError(
            f"{path}: not valid JSON ({printable(str(err), 80)})",
            hint="fix or remove the file; pybuild reads docker's client config",
        ) from None
    if not isinstance(obj, dict):
        raise CredentialsError(f"{path}: expected a JSON object")
    return obj


def _section(config: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = config.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CredentialsError(f"{path}: {name!r} must be an object")
    return value


def _find_key(section: dict[str, Any], registry: str) -> str | None:
    """The key of `section` that names `registry` (exact first, then normalized)."""
    exact = credential_key(registry)
    if exact in section:
        return exact
    wanted = normalize_key(registry)
    for key in section:
        if isinstance(key, str) and normalize_key(key) == wanted:
            return key
    return None


def helper_for(config: dict[str, Any], registry: str, path: Path) -> str | None:
    """The credential helper responsible for `registry`, if any."""
    helpers = _section(config, "credHelpers", path)
    key = _find_key(helpers, registry)
    name = helpers.get(key) if key is not None else config.get("credsStore")
    if name is None or name == "":
        return None
    if not isinstance(name, str) or not _HELPER_NAME.match(name):
        raise CredentialsError(f"{path}: invalid credential helper name {printable(str(name))!r}")
    return name


def _decode_entry(entry: Any, key: str, path: Path) -> Credentials | None:
    if not isinstance(entry, dict):
        raise CredentialsError(f"{path}: auths[{key!r}] must be an object")
    username = entry.get("username") or ""
    password = entry.get("password") or ""
    token = entry.get("identitytoken") or ""
    auth = entry.get("auth") or ""
    if not all(isinstance(v, str) for v in (username, password, token, auth)):
        raise CredentialsError(f"{path}: auths[{key!r}] has a field that is not a string")
    if auth:
        try:
            decoded = base64.b64decode(auth + "=" * (-len(auth) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(
                f"{path}: auths[{key!r}].auth is not base64 of 'user:password'",
                hint=f"log in again with `pybuild login {normalize_key(key)}`",
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise CredentialsError(f"{path}: auths[{key!r}].auth has no ':' after the user name")
    if not (username and password) and not token:
        return None
    return Credentials(username, password, token)


def lookup_credentials(registry: str, *, path: Path | None = None) -> Credentials | None:
    """Credentials for `registry` from the config file or its helper; None: anonymous."""
    path = path or config_path()
    config = load_config(path)
    helper = helper_for(config, registry, path)
    if helper is not None:
        found = helper_get(helper, credential_key(registry))
        if found is not None:
            return found
    auths = _section(config, "auths", path)
    key = _find_key(auths, registry)
    return _decode_entry(auths[key], key, path) if key is not None else None


def _write_config(path: Path, config: dict[str, Any]) -> None:
    """Replace the file atomically, mode 0600 (a symlinked file is written at its target)."""
    if path.is_symlink():
        path = path.resolve()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (json.dumps(config, indent="\t") + "\n").encode()
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def store_credentials(
    registry: str, username: str, password: str, *, path: Path | None = None
) -> str:
    """Save a login; return where it went (the file, or `docker-credential-NAME`)."""
    path = path or config_path()
    config = load_config(path)
    auths = _section(config, "auths", path)
    key = _find_key(auths, registry) or credential_key(registry)
    old = auths.get(key)
    entry = {
        k: v
        for k, v in (old.items() if isinstance(old, dict) else ())
        if k not in ("auth", "username", "password", "identitytoken")
    }
    helper = helper_for(config, registry, path)
    if helper is not None:
        record = {"ServerURL": credential_key(registry), "Username": username, "Secret": password}
        run_helper(helper, "store", json.dumps(record))
        where = f"docker-credential-{helper}"
    else:
        entry["auth"] = base64.b64encode(f"{username}:{password}".encode()).decode()
        where = str(path)
    auths[key] = entry
    config["auths"] = auths
    _write_config(path, config)
    return where


def erase_credentials(registry: str, *, path: Path | None = None) -> bool:
    """Forget a login; True if there was one."""
    path = path or config_path()
    config = load_config(path)
    erased = False
    helper = helper_for(config, registry, path)
    if helper is not None:
        erased = run_helper(helper, "erase", credential_key(registry), missing_ok=True) is not None
    auths = _section(config, "auths", path)
    keys = [k for k in auths if isinstance(k, str) and normalize_key(k) == normalize_key(registry)]
    for key in keys:
        del auths[key]
    if keys:
        config["auths"] = auths
        _write_config(path, config)
    return erased or bool(keys)


# -- credential helpers ------------------------------------------------------------------


def run_helper(name: str, action: str, stdin: str, *, missing_ok: bool = False) -> str | None:
    """Run `docker-credential-NAME ACTION`; its stdout, or None for "not found"."""
    program = f"docker-credential-{name}"
    try:
        proc = subprocess.run(
            [program, action],
            input=stdin.encode(),
            capture_output=True,
            timeout=_HELPER_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise CredentialsError(
            f"credential helper {program} not found on PATH",
            hint="install it, or remove credsStore/credHelpers from your docker config",
        ) from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(
            f"credential helper {program} {action}: no answer in {_HELPER_TIMEOUT:.0f}s"
        ) from None
    except OSError as err:
        raise CredentialsError(f"credential helper {program}: {err.strerror}") from None
    output = (proc.stdout or proc.stderr).decode("utf-8", "replace")
    if proc.returncode != 0:
        if missing_ok and "credentials not found" in output.lower():
            return None
        raise CredentialsError(
            f"credential helper {program} {action} failed: "
            f"{printable(output) or f'exit status {proc.returncode}'}"
        )
    return proc.stdout.decode("utf-8", "replace")


def helper_get(name: str, server_url: str) -> Credentials | None:
    """Ask a helper for a server's credentials; None if it has none."""
    out = run_helper(name, "get", server_url, missing_ok=True)
    if out is None:
        return None
    try:
        obj = json.loads(out)
    except ValueError:
        raise CredentialsError(
            f"credential helper docker-credential-{name} get: answer is not JSON"
        ) from None
    if not isinstance(obj, dict):
        raise CredentialsError(
            f"credential helper docker-credential-{name} get: answer is not a JSON object"
        )
    username, secret = obj.get("Username", ""), obj.get("Secret", "")
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialsError(
            f"credential helper docker-credential-{name} get: Username/Secret are not strings"
        )
    if not secret:
        return None
    if username == _TOKEN_USER:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)
