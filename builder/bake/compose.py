"""Compose files as bake targets: each service with a `build:` section is one target.

As buildx maps them: the service name (dots become underscores) names the
target; `build.context` (a string `build: DIR` too; default `.`),
`dockerfile`, `dockerfile_inline`, `args` (a map, or a list of `K=V`; a
bare `K` takes the service's `environment`, then the compose environment),
`target`, `labels`, `tags` (else the service's `image:`), `cache_from`,
`cache_to`, `platforms`, `secrets` (from the top-level `secrets:` `file`
or `environment`), `ssh`, `network`, `extra_hosts`, `additional_contexts`
(`service:NAME` becomes `target:NAME`), `shm_size`, `ulimits`, `no_cache`,
`pull`, and
the `x-bake` extension (`tags`, `cache-from`, `cache-to`, `secret`, `ssh`,
`platforms`, `output`, `pull`, `no-cache`, `no-cache-filter`, `contexts`).
Every service with a build is in the group `default`.

Strings are interpolated first (`builder.bake.interpolate`), with the
environment and `.env` of the working directory, as buildx does.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from builder.bake.evaluate import NAME_PATTERN
from builder.bake.interpolate import interpolate_tree
from builder.bake.model import Config, Group, Target, dedup
from builder.bake.specs import entry, parse_entry
from builder.errors import BakeFileError, Location, UsageError

REMOTE_PREFIXES = ("http://", "https://", "git@", "git://", "github.com/")


def is_compose(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("services"), dict)


def _mapping(value: Any, where: str) -> dict[str, str | None]:
    """A compose map given as a map or as a list of `KEY=VALUE` (a bare `KEY`: None)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): None if v is None else _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str | None] = {}
        for item in value:
            key, eq, rest = str(item).partition("=")
            out[key] = rest if eq else None
        return out
    raise BakeFileError(f"{where}: expected a map or a list of KEY=VALUE")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [_text(v) for v in value]
    raise BakeFileError(f"{where}: expected a list of strings")


def _split_words(value: Any, where: str) -> list[str]:
    """x-bake's lists: a list, or one string of space-separated items."""
    if isinstance(value, str):
        return value.split()
    return _strings(value, where)


def _clean(path: str) -> str:
    if path.startswith(REMOTE_PREFIXES) or "://" in path:
        return path
    return posixpath.normpath(path)


def _extra_hosts(value: Any, where: str) -> dict[str, str | None]:
    hosts: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for name, ips in value.items():
            hosts.setdefault(str(name), []).extend(_strings(ips, where))
    else:
        for item in _strings(value, where):
            cut = min((i for i in (item.find("="), item.find(":")) if i >= 0), default=-1)
            if cut < 0:
                raise BakeFileError(f"{where}: invalid extra host {item!r}, expected HOST:IP")
            hosts.setdefault(item[:cut], []).append(item[cut + 1 :])
    return {name: ",".join(ips) for name, ips in hosts.items()}


def _ulimits(value: Any, where: str) -> list[str]:
    """`ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}` as `nofile=1024:2048`, ..."""
    if not isinstance(value, dict):
        raise BakeFileError(f"{where}: ulimits must be a map")
    out = []
    for name, limit in value.items():
        if isinstance(limit, dict):
            soft, hard = limit.get("soft"), limit.get("hard")
            if soft is None or hard is None:
                raise BakeFileError(f"{where}: ulimit {name} needs soft and hard")
            out.append(f"{name}={soft}:{hard}")
        else:
            out.append(f"{name}={limit}:{limit}")
    return out


def _ssh(value: Any, where: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    if isinstance(value, dict):
        items = [f"{k}={v}" if v else str(k) for k, v in value.items()]
    else:
        items = _strings(value, where)
    for item in items:
        keys.append(parse_entry("ssh", item, "ssh"))
    return sorted(keys, key=lambda k: k.get("id", ""))


def _secrets(value: Any, top: Mapping[str, Any], where: str) -> list[dict[str, str]]:
    out = []
    for item in value or []:
        source = item.get("source") if isinstance(item, dict) else str(item)
        if not source:
            raise BakeFileError(f"{where}: a secret needs a source")
        spec = top.get(source) or {}
        if not isinstance(spec, dict):
            raise BakeFileError(f"{where}: secret {source!r} is not defined")
        if spec.get("external"):
            raise BakeFileError(f"{where}: unsupported external secret {source}")
        secret = {"id": str(source)}
        if spec.get("file"):
            secret["src"] = str(spec["file"])
        if spec.get("environment"):
            secret["env"] = str(spec["environment"])
        out.append(secret)
    return sorted(out, key=lambda s: s["id"])


def _contexts(value: Any, where: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name, path in _mapping(value, where).items():
        if path is not None and path.startswith(("service:", "target:")):
            path = "target:" + path.split(":", 1)[1].replace(".", "_")
        out[name] = path
    return out


def _x_bake(target: Target, ext: Any, where: str) -> None:
    if not isinstance(ext, dict):
        raise BakeFileError(f"{where}: x-bake must be a map")
    try:
        for key, value in ext.items():
            if key == "tags":
                target.tags = dedup((target.tags or []) + _split_words(value, where))
            elif key in ("cache-from", "cache-to", "secret", "ssh", "output"):
                kind = {"cache-from": "cache", "cache-to": "cache"}.get(key, key)
                items = [entry(kind, v, key) for v in _split_words(value, where)]  # type: ignore[arg-type]
                current = target.get(key) or []
                target.set(key, dedup(current + items))
                if key == "ssh":
                    target.ssh = sorted(target.ssh or [], key=lambda k: k.get("id", ""))
            elif key == "platforms":
                target.platforms = dedup((target.platforms or []) + _split_words(value, where))
            elif key == "no-cache-filter":
                target.no_cache_filter = dedup(
                    (target.no_cache_filter or []) + _split_words(value, where)
                )
            elif key in ("pull", "no-cache"):
                target.set(key, bool(value))
            elif key == "contexts":
                merged = dict(_contexts(value, where))
                merged.update(target.contexts or {})
                target.contexts = merged
            else:
                raise BakeFileError(f"{where}: x-bake field {key!r} is not supported")
    except UsageError as err:
        raise BakeFileError(f"{where}: {err.message}") from None


def _service_target(
    name: str, service: dict[str, Any], top_secrets: Mapping[str, Any],
    env: Mapping[str, str], path: str,
) -> Target:  # fmt: skip
    where = f"{path}: service {name!r}"
    build = service["build"]
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        raise BakeFileError(f"{where}: build must be a path or a map", Location(path, 0))
    target = Target(name.replace(".", "_"))
    if build.get("context"):
        target.context = _clean(str(build["context"]))
    if build.get("dockerfile"):
        target.dockerfile = str(build["dockerfile"])
    if build.get("dockerfile_inline"):
        target.dockerfile_inline = str(build["dockerfile_inline"])
    service_env = _mapping(service.get("environment"), where)
    args: dict[str, str | None] = {}
    for key, value in _mapping(build.get("args"), where).items():
        if value is None:
            value = service_env.get(key)
            if value is None:
                value = env.get(key)
        if value is not None:
            args[key] = value
    target.args = args or None
    labels = _mapping(build.get("labels"), where)
    target.labels = {k: v or "" for k, v in labels.items()} or None
    if build.get("tags"):
        target.tags = _strings(build["tags"], where)
    try:
        if build.get("cache_from"):
            target.cache_from = [entry("cache", v, "cache_from") for v in build["cache_from"]]
        if build.get("cache_to"):
            target.cache_to = [entry("cache", v, "cache_to") for v in build["cache_to"]]
    except UsageError as err:
        raise BakeFileError(f"{where}: {err.message}") from None
    if build.get("platforms"):
        target.platforms = _strings(build["platforms"], where)
    if build.get("secrets"):
        target.secret = _secrets(build["secrets"], top_secrets, where)
    if build.get("ssh"):
        target.ssh = _ssh(build["ssh"], where)
    if build.get("network"):
        target.network = str(build["network"])
    if build.get("extra_hosts"):
        target.extra_hosts = _extra_hosts(build["extra_hosts"], where)
    if build.get("additional_contexts"):
        contexts = _contexts(build["additional_contexts"], where)
        target.contexts = {  # local directories are cleaned, as compose's loader does
            k: v if v is None or v.startswith(("target:", "docker-image:")) else _clean(v)
            for k, v in contexts.items()
        }
    if build.get("shm_size"):
        target.shm_size = _text(build["shm_size"])
    if build.get("ulimits"):
        target.ulimits = _ulimits(build["ulimits"], where)
    if build.get("no_cache"):
        target.no_cache = True
    if build.get("pull"):
        target.pull = True
    if build.get("x-bake") is not None:
        _x_bake(target, build["x-bake"], where)
    if build.get("target"):
        target.target = str(build["target"])
    if not target.tags and service.get("image"):
        target.tags = [str(service["image"])]
    return target


def compose_config(data: dict[str, Any], env: Mapping[str, str], path: str) -> Config:
    """The targets of one compose file (already loaded from YAML)."""
    services = data.get("services") or {}
    top_secrets = interpolate_tree(data.get("secrets") or {}, env, path)
    config = Config()
    default = Group("default")
    for name, service in services.items():
        if not isinstance(service, dict) or service.get("build") is None:
            continue
        relevant = {k: service[k] for k in ("image", "build", "environment") if k in service}
        service = interpolate_tree(relevant, env, f"{path}: service {name!r}")
        target = _service_target(str(name), service, top_secrets, env, path)
        if not NAME_PATTERN.match(target.name):
            raise BakeFileError(f"invalid service name {target.name!r}", Location(path, 0))
        default.targets.append(target.name)
        config.add_target(target)
    config.groups.append(default)
    return config
