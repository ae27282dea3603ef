"""What BuildKit's checks share: ARG/ENV state per stage, as BuildKit's dispatcher has it.

BuildKit runs most checks while it converts the Dockerfile, so they see the
variables a real build would see. `walk_stages` replays that without a
registry: predefined platform ARGs and meta ARG defaults for FROM lines,
then per stage the ENV and ARG values in order. A stage built `FROM` an
earlier stage inherits its environment, `SHELL` and `WORKDIR` state, as in
BuildKit; a stage built from an image starts with only `PATH` (the image's
own ENV cannot be known without pulling it). Build args given on the
command line are not known either: checks see the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from builder.context.dockerignore import DockerignoreError, IgnoreMatcher, load_ignore_patterns
from builder.dockerfile.ast import Dockerfile, Instruction
from builder.dockerfile.shell_lexer import ExpansionError, ShellLexer
from builder.dockerfile.text import go_trim_left_space, go_trim_space
from builder.image.platform import host_platform, platform_args
from builder.lint.model import LintContext, Stage
from builder.lint.rules.buildkit._directive import parse_check_directive

#: ARGs BuildKit reads itself and never puts in the environment.
NON_ENV_ARGS = frozenset({"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"})
#: BuildKit sets PATH when the image does not (`system.DefaultPathEnv` for Linux).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_DOCS = "https://docs.docker.com/go/dockerfile/rule/{}/"
_KEBAB = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def docs_url(name: str) -> str:
    """The docs page Docker links for a check: `StageNameCasing` -> `.../stage-name-casing/`."""
    return _DOCS.format(_KEBAB.sub("-", name).lower())


@lru_cache(maxsize=4)
def lexer(escape: str) -> ShellLexer:
    return ShellLexer(escape=escape if escape in ("\\", "`") else "\\")


@dataclass(frozen=True)
class Expansion:
    """One word after BuildKit's expansion; `value` is None when the word is malformed."""

    value: str | None
    matched: frozenset[str] = frozenset()
    unmatched: frozenset[str] = frozenset()


def expand(dockerfile: Dockerfile, word: str, env: Mapping[str, str]) -> Expansion:
    try:
        value, matched, unmatched = lexer(dockerfile.escape).expand_word_with_matches(word, env)
    except ExpansionError:
        return Expansion(None)
    return Expansion(value, frozenset(matched), frozenset(unmatched))


def expand_words(dockerfile: Dockerfile, word: str, env: Mapping[str, str]) -> list[str] | None:
    try:
        return lexer(dockerfile.escape).expand_words(word, env)
    except ExpansionError:
        return None


# ---------------------------------------------------------------------------
# Suggestions


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def suggest(value: str, options: Iterable[str]) -> str | None:
    """BuildKit's `suggest.Search`: the closest option less than 3 edits away, if any."""
    best, best_distance = None, 3
    for option in sorted(set(options)):
        if option == value:
            return None
        distance = levenshtein(value, option)
        if distance < best_distance:
            best, best_distance = option, distance
    return best


# ---------------------------------------------------------------------------
# ARGs and stages


def arg_definitions(inst: Instruction) -> list[tuple[str, str | None]]:
    """The `(name, raw default or None)` pairs of an ARG instruction."""
    out: list[tuple[str, str | None]] = []
    for word in inst.args:
        name, eq, value = word.partition("=")
        if name:
            out.append((name, value if eq else None))
    return out


@dataclass(frozen=True)
class GlobalArgs:
    """What FROM lines see with no `--build-arg`: predefined ARGs and meta ARG defaults."""

    values: Mapping[str, str]
    declared: frozenset[str]  #: every predefined or meta ARG name, with or without a value
    valid: bool = True  #: False when a meta ARG default cannot be expanded


def global_args(ctx: LintContext) -> GlobalArgs:
    host = host_platform()
    values: dict[str, str] = dict(platform_args(host, host))
    declared = set(values)
    valid = True
    for inst in ctx.meta_args:
        for name, raw in arg_definitions(inst):
            declared.add(name)
            if raw is not None:
                result = expand(ctx.dockerfile, raw, values)
                if result.value is None:
                    valid = False
                    continue
                values[name] = result.value
    return GlobalArgs(values, frozenset(declared), valid)


def stage_name_words(stage: Stage) -> tuple[str, str | None]:
    """The base image word and the `AS` name as written."""
    args = stage.from_instruction.args
    base = args[0] if args else ""
    name = args[2] if len(args) >= 3 and args[1].lower() == "as" else None
    return base, name


@dataclass
class StageView:
    """A stage with its FROM line expanded by the global ARGs."""

    stage: Stage
    base: Expansion
    platform: Expansion | None  #: the `--platform` flag, expanded; None when absent
    base_index: int | None  #: the earlier stage this one is built on, if any


def stage_views(ctx: LintContext, gargs: GlobalArgs | None = None) -> list[StageView]:
    gargs = gargs or global_args(ctx)
    views: list[StageView] = []
    by_name: dict[str, int] = {}
    for stage in ctx.stages:
        base_word, _ = stage_name_words(stage)
        base = expand(ctx.dockerfile, base_word, gargs.values)
        flag = stage.from_instruction.get_flag("platform")
        platform = expand(ctx.dockerfile, flag, gargs.values) if flag is not None else None
        base_index = by_name.get(base.value) if base.value is not None else None
        views.append(StageView(stage, base, platform, base_index))
        if stage.name:
            by_name[stage.name] = stage.index
    return views


def resolve_stage(
    ctx: LintContext, name: str, *, before: int | None = None
) -> tuple[int | None, bool]:
    """The stage `COPY --from=name` / `--mount from=name` means: (index, found).

    Like BuildKit, a number is a stage index and a name is compared
    case-insensitively with every stage's `AS` name (later ones too, which
    BuildKit then refuses). `before` restricts the search to earlier stages.
    """
    limit = len(ctx.stages) if before is None else before
    if name.isdigit():
        index = int(name)
        return (index, True) if index < limit else (index, False)
    lowered = name.lower()
    for stage in ctx.stages[:limit]:
        if stage.name == lowered:
            return stage.index, True
    return None, False


# ---------------------------------------------------------------------------
# Replaying a stage


@dataclass
class StageState:
    env: dict[str, str] = field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    args: set[str] = field(default_factory=set)  #: ARG names declared so far in the stage
    shell_set: bool = False  #: a SHELL instruction ran (here or in a parent stage)
    workdir_set: bool = False  #: a WORKDIR instruction ran (here or in a parent stage)

    def inherit(self) -> StageState:
        """The state a child stage (`FROM <this stage>`) starts with."""
        return StageState(dict(self.env), set(), self.shell_set, self.workdir_set)


@dataclass(frozen=True)
class Step:
    """An instruction with the state right before it."""

    inst: Instruction
    env: Mapping[str, str]
    args: frozenset[str]
    shell_set: bool
    workdir_set: bool


@dataclass(frozen=True)
class ArgStep:
    """One name of an ARG instruction, as BuildKit's dispatcher processes it."""

    name: str
    raw: str | None  #: the default as written
    default: Expansion | None  #: the default, expanded with the state before this name
    env: Mapping[str, str]  #: the environment the default was expanded with
    declared: frozenset[str]  #: ARG names declared in the stage before this name


def arg_steps(
    dockerfile: Dockerfile, inst: Instruction, state: StageState, gargs: GlobalArgs
) -> Iterator[ArgStep]:
    """Process an ARG instruction name by name, updating `state` like BuildKit does."""
    for name, raw in arg_definitions(inst):
        env = dict(state.env)
        declared = frozenset(state.args)
        default = expand(dockerfile, raw, env) if raw is not None else None
        yield ArgStep(name, raw, default, env, declared)
        value: str | None
        if raw is not None:
            value = default.value if default is not None else None
        else:
            value = gargs.values.get(name)
        if value is not None and name not in NON_ENV_ARGS:
            state.env[name] = value
        state.args.add(name)


def apply(dockerfile: Dockerfile, inst: Instruction, state: StageState, gargs: GlobalArgs) -> None:
    """Update `state` with the effect of one instruction."""
    keyword = inst.keyword
    if keyword == "env":
        before = dict(state.env)
        for kv in inst.key_values:
            key = expand(dockerfile, kv.key, before).value or kv.key
            value = expand(dockerfile, kv.value, before).value
            state.env[key] = kv.value if value is None else value
    elif keyword == "arg":
        for _ in arg_steps(dockerfile, inst, state, gargs):
            pass
    elif keyword == "workdir":
        state.workdir_set = True
    elif keyword == "shell":
        state.shell_set = True


def _image_state(ctx: LintContext, view: StageView) -> StageState:
    """A stage FROM an image: the image's ENV when the local store knows it, else only PATH."""
    lookup = ctx.settings.image_env
    name = view.base.value
    if lookup is None or not name or name.lower() == "scratch":
        return StageState()
    env = lookup(name)
    if env is None:
        return StageState()
    return StageState(env={"PATH": DEFAULT_PATH, **env})


def walk_stages(
    ctx: LintContext, gargs: GlobalArgs | None = None
) -> Iterator[tuple[StageView, list[Step]]]:
    """Every stage with its instructions, each paired with the state before it."""
    gargs = gargs or global_args(ctx)
    finals: list[StageState] = []
    for view in stage_views(ctx, gargs):
        base = view.base_index
        state = finals[base].inherit() if base is not None else _image_state(ctx, view)
        steps: list[Step] = []
        for inst in view.stage.instructions:
            steps.append(
                Step(
                    inst, dict(state.env), frozenset(state.args), state.shell_set, state.workdir_set
                )
            )
            apply(ctx.dockerfile, inst, state, gargs)
        finals.append(state)
        yield view, steps


# ---------------------------------------------------------------------------
# Words BuildKit expands


def _is_heredoc_word(inst: Instruction, word: str) -> bool:
    return bool(inst.heredocs) and word.lstrip("0123456789").startswith("<<")


def expanded_words(inst: Instruction) -> list[str]:
    """The words BuildKit expands with ARG/ENV values (and checks with UndefinedVar).

    RUN, CMD, ENTRYPOINT, HEALTHCHECK, SHELL and ONBUILD are left to the shell
    or to a later build; EXPOSE is expanded but not checked; ARG defaults are
    handled name by name (`arg_steps`). The body of a COPY/ADD heredoc is
    expanded unless its delimiter is quoted (`<<'EOF'`).
    """
    keyword = inst.keyword
    if keyword in ("add", "copy"):
        words = [flag for name in ("chown", "chmod") if (flag := inst.get_flag(name))]
        words += [doc.content for doc in inst.heredocs if doc.expand]
        return words + [w for w in inst.args if not _is_heredoc_word(inst, w)]
    if keyword in ("env", "label"):
        return [part for kv in inst.key_values for part in (kv.key, kv.value)]
    if keyword in ("workdir", "user", "stopsignal", "volume"):
        return list(inst.args)
    return []


def copy_sources(inst: Instruction) -> list[str]:
    """The source words of a COPY/ADD (the destination and heredoc markers left out)."""
    if len(inst.args) < 2:
        return []
    return [w for w in inst.args[:-1] if not _is_heredoc_word(inst, w)]


# ---------------------------------------------------------------------------
# Comments and directives


def preceding_comment(dockerfile: Dockerfile, inst: Instruction) -> str | None:
    """The comment on the line right above an instruction, as a description.

    An empty line or an empty `#` in between means no description; parser
    directives are not comments.
    """
    number = inst.start_line - 1
    if number < 1 or any(d.line == number for d in dockerfile.directives):
        return None
    text = dockerfile.source_line(number)
    if text is None:
        return None
    stripped = go_trim_left_space(text)
    if not stripped.startswith("#"):
        return None
    comment = go_trim_space(stripped[1:])
    return comment or None


def logical_end_line(inst: Instruction) -> int:
    """The last line of an instruction's own text (heredoc bodies left out)."""
    end = inst.end_line
    for heredoc in inst.heredocs:
        end -= heredoc.content.count("\n") + 1
    return max(end, inst.start_line)


def experimental_enabled(ctx: LintContext, name: str) -> bool:
    """Is the experimental check `name` switched on by the file's `# check=` directive?"""
    value = ctx.dockerfile.directive("check")
    if value is None:
        return False
    try:
        directive = parse_check_directive(value)
    except ValueError:
        return False
    return directive.experimental_all or name in directive.experimental


# ---------------------------------------------------------------------------
# The build context


def context_dir(ctx: LintContext) -> Path | None:
    """`--context DIR`, when it is given and is a directory."""
    directory = ctx.settings.context_dir
    if directory is None:
        return None
    path = Path(directory)
    return path if path.is_dir() else None


def context_ignore(ctx: LintContext) -> IgnoreMatcher | None:
    """The build's ignore patterns; None without a context or when the file is invalid."""
    root = context_dir(ctx)
    if root is None:
        return None
    dockerfile = ctx.path if ctx.path not in ("", "-") else None
    try:
        return load_ignore_patterns(root, dockerfile)
    except DockerignoreError:
        return None


def is_remote_source(source: str) -> bool:
    """An ADD source fetched from the network (HTTP or git), not read from the context."""
    return "://" in source or source.startswith("git@")
