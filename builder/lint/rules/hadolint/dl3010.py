"""DL3010: Use ADD for extracting archives into an image.

COPY of an archive followed by a RUN that unpacks it leaves the archive in
a layer: the image carries it twice. `ADD archive.tar.gz /dest/` unpacks
local tar archives in one step. The COPY is reported when a later RUN of
the same stage extracts (`tar -x`, `gunzip`, `unzip`...) a file of that
name. As in hadolint, only the last stage is checked.

Fails:

    FROM debian:12
    COPY app.tar.gz /opt/
    RUN tar -xzf /opt/app.tar.gz -C /opt

Passes:

    FROM debian:12
    ADD app.tar.gz /opt/
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from builder.lint import shell
from builder.lint.model import LintContext, Rule, Severity, Violation
from builder.lint.rules.hadolint import _common as c

CODE: Final = "DL3010"
MESSAGE: Final = "Use `ADD` for extracting archives into an image"
EXTRACTORS: Final = frozenset(
    {"unzip", "gunzip", "bunzip2", "unlzma", "unxz", "zgz", "uncompress", "zcat", "gzcat"}
)


def _extracts(cmd: shell.Command) -> bool:
    if cmd.name in EXTRACTORS:
        return True
    return cmd.name == "tar" and any(
        a in ("--extract", "--get") or (a.startswith("-") and "x" in a) for a in cmd.args
    )


def check(ctx: LintContext) -> Iterator[Violation]:
    archives: set[tuple[int, str]] | None = None  # (COPY line, file name); None before a COPY
    extracted: set[tuple[int, str]] = set()
    for inst in c.instructions(ctx):
        if inst.keyword == "from":  # hadolint starts over: only the last stage counts
            archives = None
            extracted = set()
        elif inst.keyword == "copy" and inst.get_flag("from") is None:
            archives = archives if archives is not None else set()
            sources, target = c.copy_paths(inst)
            if c.is_archive(target):
                archives.add((inst.start_line, c.basename(target)))
            else:
                archives.update(
                    (inst.start_line, c.basename(s)) for s in sources if c.is_archive(s)
                )
        elif inst.keyword == "run" and archives:
            for cmd in c.run_commands(inst):
                if _extracts(cmd):
                    names = {c.basename(a) for a in shell.args_without_flags(cmd)}
                    extracted.update(a for a in archives if a[1] in names)
    for line, _ in sorted(extracted):
        yield Violation(line)


RULE: Final = Rule(CODE, Severity.INFO, MESSAGE, check, c.url(CODE))
