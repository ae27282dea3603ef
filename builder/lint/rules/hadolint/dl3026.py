"""DL3026: Use only an allowed registry in the FROM image.

With `trusted_registries` set, every base image (and every image that
`COPY --from` or a RUN mount reads) must come from one of them; images
without a registry come from Docker Hub, allowed when `docker.io` or
`hub.docker.com` is listed. Patterns: `*` (any), `*.example.com`,
`registry.example.*`. Without the setting the rule does nothing.

Settings:

    trusted_registries: registry.example.com

Fails:

    FROM quay.io/prometheus/busybox:latest

Passes:

    FROM registry.example.com/base/debian:12
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3026"
MESSAGE: Final = "Use only an allowed registry in the FROM image"


def registry_matches(pattern: str, registry: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return registry.endswith(pattern[1:])
    if pattern.endswith("*"):
        return registry.startswith(pattern[:-1])
    return registry == pattern


def image_of(text: str) -> tuple[str | None, str]:
    """(registry, name) of a `--from` value: a registry when the first part holds a dot."""
    first, slash, rest = text.partition("/")
    if slash and "." in first:
        return first, rest
    return None, text


def check(ctx: LintContext) -> Iterator[Violation]:
    allowed: Sequence[str] = ctx.settings.trusted_registries
    if not allowed:
        return

    def trusted(registry: str) -> bool:
        return any(registry_matches(p, registry) for p in allowed)

    aliases: set[str] = set()

    def ok(registry: str | None, name: str) -> bool:
        if name in aliases:
            return True
        if registry is not None:
            return trusted(registry)
        return name == "scratch" or trusted("docker.io") or trusted("hub.docker.com")

    for inst in c.instructions(ctx):
        if inst.keyword == "from":
            image = c.base_image(inst)
            fine = ok(image.registry, image.name)
            if image.alias is not None:
                aliases.add(image.alias)
            if not fine:
                yield Violation(inst.start_line)
        elif inst.keyword == "copy":
            source = inst.get_flag("from")
            if source is not None and not ok(*image_of(source)):
                yield Violation(inst.start_line)
        elif inst.keyword == "run":
            for mount in c.run_flags(inst).mounts:
                if mount.type in ("cache", "bind") and not ok(
                    *image_of(mount.source_image or "scratch")
                ):
                    yield Violation(inst.start_line)
                    break


RULE: Final = Rule(CODE, Severity.ERROR, MESSAGE, check, c.url(CODE))
