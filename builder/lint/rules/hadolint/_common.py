"""What hadolint's rules share: instruction views the way hadolint sees them.

hadolint parses Dockerfiles with language-docker, whose view of some
instructions differs from BuildKit's: the script of a RUN in exec form is
its items joined with spaces; `FROM` splits a registry off when the part
before the first `/` holds a dot; ENV and LABEL values lose their quotes
but are not expanded. The functions here give the rules that view.

Rules fold over every instruction of the file in order, as hadolint does;
stages are where a `FROM` resets a rule's state. Many rules also run a
second time over the instructions inside `ONBUILD`, with state of their own
(hadolint's `rule <> onbuild rule`): `with_onbuild` gives both sequences.

Every RUN script is parsed once: `script()` memoizes the parse by text, so
the thirty-odd rules that look at the same RUN share one parse.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from builder.dockerfile.ast import Instruction
from builder.lint import shell
from builder.lint.model import LintContext, Violation

WIKI: Final = "https://github.com/hadolint/hadolint/wiki/"

#: language-docker's archive extensions (DL3010, DL3020).
ARCHIVE_EXTENSIONS: Final = (
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2",
    ".tgz", ".tlz", ".tpz", ".txz", ".xz",
)  # fmt: skip

_SCRIPT_KEYWORDS: Final = frozenset({"run", "cmd", "entrypoint", "shell"})


def url(code: str) -> str:
    return WIKI + code


def drop_quotes(text: str) -> str:
    """Surrounding single and double quotes removed (hadolint's dropQuotes)."""
    return text.strip("\"'")


def is_archive(path: str) -> bool:
    return drop_quotes(path).endswith(ARCHIVE_EXTENSIONS)


def basename(path: str) -> str:
    """The last component of a Unix or Windows path, quotes dropped."""
    path = drop_quotes(path)
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[cut + 1 :]


# ---------------------------------------------------------------------------
# Instruction sequences
# ---------------------------------------------------------------------------


def instructions(ctx: LintContext) -> list[Instruction]:
    """Every instruction of the file, in order (ONBUILD as one instruction)."""
    return ctx.dockerfile.instructions


def onbuild_instructions(ctx: LintContext) -> list[Instruction]:
    """The instructions ONBUILD wraps, each at its ONBUILD's line."""
    return [i.child for i in ctx.dockerfile.instructions if i.child is not None]


def with_onbuild(ctx: LintContext) -> tuple[list[Instruction], list[Instruction]]:
    """The file's instructions, then the ONBUILD ones: a rule runs over each on its own."""
    return instructions(ctx), onbuild_instructions(ctx)


def simple(
    sequence: Iterable[Instruction], ok: Callable[[Instruction], bool]
) -> Iterator[Violation]:
    """One violation per instruction that `ok` rejects (hadolint's simpleRule)."""
    for inst in sequence:
        if not ok(inst):
            yield Violation(inst.start_line)


def simple_with_onbuild(ctx: LintContext, ok: Callable[[Instruction], bool]) -> Iterator[Violation]:
    for sequence in with_onbuild(ctx):
        yield from simple(sequence, ok)


# ---------------------------------------------------------------------------
# Shell scripts
# ---------------------------------------------------------------------------


#: Two or more backslashes before a quote: language-docker cannot read that JSON.
_JSON_TRAP_RE: Final = re.compile(r'\\{2,}"')


def exec_form(inst: Instruction) -> bool:
    """Exec (JSON) form the way language-docker reads it.

    Its JSON reader gives up on an item holding an escaped backslash right
    before an escaped or closing quote (`"a\\\\"`); the instruction is then
    in shell form for hadolint.
    """
    return inst.json and not _JSON_TRAP_RE.search(inst.original)


def script_text(inst: Instruction) -> str:
    """The text hadolint hands to the shell parser for RUN, CMD, ENTRYPOINT, SHELL."""
    args = inst.args[1:] if inst.keyword == "healthcheck" else inst.args  # after CMD
    if inst.json:
        return " ".join(args)
    if not args:
        return ""
    if inst.heredocs:
        return _heredoc_text(args[0], inst.heredocs[0].content)
    return " ".join(args)


def _heredoc_text(line: str, body: str) -> str:
    """language-docker's reading of a RUN with a here-document.

    `RUN <<EOF` runs the body; anything after the marker on the same line
    comes first, unless it is a redirection. With words before the marker
    (`RUN cat <<EOF > f`), only those words are the script.
    """
    at = line.find("<<")
    if at > 0:
        return line[:at].strip()
    rest = line[2:].lstrip("-")
    match = re.match(r"\"[^\"]*\"|'[^']*'|\S+", rest)
    after = rest[match.end() :].strip() if match else ""
    if after.startswith(("|", ">")):
        after = ""
    return (after + "\n" + body).strip() if after else body.strip()


@functools.lru_cache(maxsize=4096)
def parse_cached(text: str) -> shell.Script:
    """Parse a script once per distinct text (a pure function's memo)."""
    return shell.parse_script(text)


def script(inst: Instruction) -> shell.Script:
    """The parsed script of a RUN (or CMD, ENTRYPOINT, SHELL, HEALTHCHECK)."""
    return parse_cached(script_text(inst))


def run_script(inst: Instruction) -> shell.Script | None:
    """The parsed script when `inst` is a RUN, else None."""
    if inst.keyword != "run":
        return None
    return script(inst)


def run_commands(inst: Instruction) -> tuple[shell.Command, ...]:
    """The commands of a RUN; () for any other instruction."""
    if inst.keyword != "run":
        return ()
    return script(inst).commands


def no_run_command(inst: Instruction, bad: Callable[[shell.Command], bool]) -> bool:
    """True unless `inst` is a RUN with a command that `bad` accepts."""
    return not any(bad(c) for c in run_commands(inst))


def first_index(commands: Sequence[shell.Command], pred: Callable[[shell.Command], bool]) -> int:
    """Index of the first command `pred` accepts, or -1."""
    for index, cmd in enumerate(commands):
        if pred(cmd):
            return index
    return -1


def installs_then_cleans(
    commands: Sequence[shell.Command],
    install: Callable[[shell.Command], bool],
    clean: Callable[[shell.Command], bool],
) -> bool:
    """No install, or a clean-up after the first install (DL3032, DL3036, DL3040)."""
    first_install = first_index(commands, install)
    if first_install < 0:
        return True
    first_clean = first_index(commands, clean)
    return first_clean > first_install


# ---------------------------------------------------------------------------
# RUN flags
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mount:
    """A `--mount` of RUN, the fields rules read."""

    type: str  #: bind (the default), cache, tmpfs, secret, ssh
    target: str
    source_image: str | None  #: `from=`
    options: frozenset[tuple[str, str]]  #: every key=value, for comparing mounts


@dataclass(frozen=True, slots=True)
class RunFlags:
    mounts: frozenset[Mount]
    network: str | None
    security: str | None


_TARGET_KEYS: Final = ("target", "dst", "destination")


def _split_options(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char == '"':
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_mount(text: str) -> Mount:
    options: dict[str, str] = {}
    for part in _split_options(text):
        key, _, value = part.partition("=")
        options.setdefault(key.strip().lower(), value)
    target = ""
    for key in _TARGET_KEYS:
        if key in options:
            target = options[key]
            break
    return Mount(
        options.get("type", "bind"),
        target,
        options.get("from"),
        frozenset(options.items()),
    )


def run_flags(inst: Instruction) -> RunFlags:
    mounts: list[Mount] = []
    network: str | None = None
    security: str | None = None
    for flag in inst.flags:
        name, _, value = flag[2:].partition("=")
        name = name.lower()
        if name == "mount":
            mounts.append(parse_mount(value))
        elif name == "network":
            network = value
        elif name == "security":
            security = value
    return RunFlags(frozenset(mounts), network, security)


def has_cache_mount_with(inst: Instruction, fragment: str) -> bool:
    """A cache or tmpfs mount whose target contains `fragment`."""
    return any(
        m.type in ("cache", "tmpfs") and fragment in m.target for m in run_flags(inst).mounts
    )


# ---------------------------------------------------------------------------
# FROM
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BaseImage:
    """A FROM the way language-docker reads it."""

    registry: str | None
    name: str
    tag: str | None
    digest: str | None
    alias: str | None  #: as written, case kept
    platform: str | None


def _split_unexpanded(text: str, stops: str) -> tuple[str, str]:
    """`text` up to the first of `stops` outside `${...}`, and the rest."""
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "$" and text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if char == "}" and depth:
            depth -= 1
        elif not depth and char in stops:
            return text[:i], text[i:]
        i += 1
    return text, ""


@functools.lru_cache(maxsize=1024)
def parse_image(text: str) -> tuple[str | None, str, str | None, str | None]:
    """(registry, name, tag, digest) of an image reference (memoized: a pure function)."""
    registry: str | None = None
    domain, rest = _split_unexpanded(text, ".")
    if domain and rest:
        tld, after = _split_unexpanded(rest[1:], "/")
        if tld and after:
            registry = domain + "." + tld
            text = after[1:]
    name, rest = _split_unexpanded(text, ":@")
    tag: str | None = None
    digest: str | None = None
    if rest.startswith(":"):
        tag, rest = _split_unexpanded(rest[1:], ":@")
    if rest.startswith("@"):
        digest = rest[1:]
    return registry, name, tag, digest


def base_image(inst: Instruction) -> BaseImage:
    args = inst.args
    registry, name, tag, digest = parse_image(args[0] if args else "")
    alias = args[2] if len(args) >= 3 and args[1].lower() == "as" else None
    return BaseImage(registry, name, tag, digest, alias, inst.get_flag("platform"))


def scratch() -> BaseImage:
    """The stand-in image of rules that see instructions before any FROM."""
    return BaseImage(None, "scratch", None, None, None, None)


# ---------------------------------------------------------------------------
# COPY, ADD, ENV, LABEL, ARG, USER, EXPOSE
# ---------------------------------------------------------------------------


def _heredoc_marker(word: str) -> str:
    return drop_quotes(word[2:].lstrip("-"))


def copy_paths(inst: Instruction) -> tuple[list[str], str]:
    """(sources, target) of COPY or ADD; a heredoc source is its marker name."""
    args = list(inst.args)
    if not args:
        return [], ""
    if inst.heredocs and not inst.json:
        sources = [_heredoc_marker(a) for a in args if a.startswith("<<")]
        rest = [a for a in args if not a.startswith("<<")]
        return sources, " ".join(rest)
    return args[:-1], args[-1]


def unquote(text: str, escape: str = "\\") -> str:
    """A value the way language-docker reads ENV and LABEL: quotes gone, not expanded."""
    if "'" not in text and '"' not in text and escape not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char in "\"'":
            quote = char
            i += 1
            while i < n and text[i] != quote:
                if text[i] == escape and i + 1 < n and text[i + 1] == quote:
                    out.append(quote)
                    i += 2
                    continue
                out.append(text[i])
                i += 1
            i += 1
        elif char == escape and i + 1 < n and text[i + 1] in " \t":
            out.append(text[i + 1])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def pairs(inst: Instruction, escape: str = "\\") -> list[tuple[str, str]]:
    """ENV or LABEL pairs, unquoted; the legacy `ENV key value` value stays raw."""
    out: list[tuple[str, str]] = []
    for kv in inst.key_values:
        key = unquote(kv.key, escape)
        value = unquote(kv.value, escape) if kv.separator else kv.value
        out.append((key, value))
    return out


def arg_name(inst: Instruction) -> str:
    return inst.args[0].split("=", 1)[0] if inst.args else ""


_USER_RE: Final = re.compile(r"\s*(?:onbuild\s+)?user\s+(.*)", re.IGNORECASE | re.DOTALL)


def user_text(inst: Instruction) -> str:
    """The USER value as language-docker reads it: trailing blanks kept (`root ` is no root)."""
    match = _USER_RE.fullmatch(inst.original)
    return match.group(1) if match else " ".join(inst.args)


_PORT_RE: Final = re.compile(r"(\d+)(?:-(\d+))?(?:/(?:tcp|udp))?", re.IGNORECASE)


def exposed_ports(inst: Instruction) -> list[int]:
    """The port numbers of an EXPOSE (range ends included; variables skipped)."""
    out: list[int] = []
    for word in inst.args:
        match = _PORT_RE.fullmatch(word)
        if match:
            out.append(int(match.group(1)))
            if match.group(2):
                out.append(int(match.group(2)))
    return out


def forgotten_cleanups(
    sequence: Sequence[Instruction], forgot: Callable[[Instruction], bool]
) -> Iterator[Violation]:
    """RUNs that leave something behind (`forgot(run)`) in a stage that ends up
    in the image: the last stage, or one a later FROM builds on (DL3009, DL3060).
    """
    current: BaseImage | None = None
    used_as_base: set[str] = set()  # image names of every FROM
    forgotten: list[tuple[int, BaseImage]] = []
    for inst in sequence:
        if inst.keyword == "from":
            current = base_image(inst)
            used_as_base.add(current.name)
        elif inst.keyword == "run" and forgot(inst):
            if current is None:
                current = scratch()
            forgotten.append((inst.start_line, current))
    for line, stage in forgotten:
        if stage == current or (stage.alias is not None and stage.alias in used_as_base):
            yield Violation(line)


class InheritedStageFlag:
    """A yes/no per stage that a stage built `FROM` another stage inherits, the
    way hadolint tracks it (DL3042: PIP_NO_CACHE_DIR set; DL3045: WORKDIR set).

    As in hadolint, the first FROM records no stage: a flag set before any
    other FROM lives under a placeholder name.
    """

    _NO_STAGE: Final = "\0"

    def __init__(self) -> None:
        self.current: str | None = None
        self._flags: dict[str, bool] = {}

    def enter(self, from_instruction: Instruction) -> None:
        image = base_image(from_instruction)
        name = image.alias if image.alias is not None else image.name
        if self.current is not None:
            self._flags[name] = self._flags.get(image.name, False)
        self.current = name

    def set(self) -> None:
        if self.current is None:
            self.current = self._NO_STAGE
        self._flags[self.current] = True

    def is_set(self) -> bool:
        return self.current is not None and self._flags.get(self.current, False)
