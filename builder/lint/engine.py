"""The lint engine: files in, findings out.

For each Dockerfile: parse it (a file that does not parse gives one DL1000
finding and nothing else, as in hadolint), read its pragmas, run the enabled
rules and ShellCheck, then apply the configuration: severity overrides,
`ignored`, pragmas, and drop what ends up at severity `ignore`.

Which rules run:
- hadolint's rules (`builder.lint.rules.hadolint`) and ShellCheck: always;
- BuildKit's build checks (`builder.lint.rules.buildkit`): with
  `buildkit_checks`, or when the Dockerfile has a `# check=` directive,
  whose `skip=` and `error=true` settings are honoured;
- the context rules (`builder.lint.rules.context`): with `context_dir`.

ShellCheck processes are started for all files at once, before the Python
rules run, so the two overlap.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.dockerfile.ast import KEYWORDS, Dockerfile
from builder.errors import PybuildError
from builder.lint.config import LintConfig
from builder.lint.model import Finding, LintContext, Rule, Severity, build_context
from builder.lint.pragmas import Pragmas, collect
from builder.lint.results import PARSE_ERROR_CODE as PARSE_ERROR_CODE  # re-exported
from builder.lint.results import FileResult, ParseFailure

if TYPE_CHECKING:
    from builder.lint.shellcheck import Script

RULE_PACKAGES: dict[str, str] = {
    "hadolint": "builder.lint.rules.hadolint",
    "buildkit": "builder.lint.rules.buildkit",
    "context": "builder.lint.rules.context",
}


class LintInputError(PybuildError):
    """A Dockerfile to lint cannot be read."""


@dataclass(frozen=True)
class Source:
    """A Dockerfile given as text; `name` is the path shown in reports."""

    text: str | bytes
    name: str = "Dockerfile"


@dataclass(frozen=True)
class RuleSet:
    """The rules of each family."""

    hadolint: tuple[Rule, ...] = ()
    buildkit: tuple[Rule, ...] = ()
    context: tuple[Rule, ...] = ()


#: Formats whose exit code is always 0 in hadolint.
NEVER_FAILING_FORMATS = frozenset({"codeclimate", "codacy"})


@dataclass
class LintResult:
    """The outcome of a lint run."""

    files: list[FileResult]
    config: LintConfig
    #: rules that crashed: "DL3008 on Dockerfile: ValueError: ..."
    internal_errors: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for result in self.files for f in result.all_findings()]

    @property
    def failed(self) -> bool:
        """A file failed the threshold (whatever `no_fail` says)."""
        threshold = self.config.failure_threshold
        return any(result.failed(threshold) for result in self.files)

    @property
    def exit_code(self) -> int:
        """hadolint's exit status: 1 when a file failed, unless told not to fail."""
        if self.internal_errors:
            return 1
        if self.config.no_fail or self.config.format in NEVER_FAILING_FORMATS:
            return 0
        return 1 if self.failed else 0

    def render(self, fmt: str | None = None, *, color: bool = False, **options: Any) -> str:
        """The report in a format (default: the configured one)."""
        from builder.lint.formatters import FormatOptions, render

        opts = FormatOptions(
            color=color, file_path_in_report=self.config.file_path_in_report, **options
        )
        return render(self.files, fmt or self.config.format, opts)


# ---------------------------------------------------------------------------
# Rules


def _import_family(family: str) -> Any:
    name = RULE_PACKAGES[family]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise


@cache
def family_rules(family: str) -> tuple[Rule, ...]:
    """The `RULES` of one rule package (none when the package is not there)."""
    module = _import_family(family)
    return tuple(getattr(module, "RULES", ())) if module is not None else ()


def default_rules() -> RuleSet:
    """The rules of the three packages."""
    return RuleSet(family_rules("hadolint"), family_rules("buildkit"), family_rules("context"))


@dataclass(frozen=True)
class _CheckDirective:
    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    error: bool = False

    def enables(self, name: str) -> bool:
        return not self.skip_all and name not in self.skip


def parse_check_directive(value: str | None) -> Any:
    """The `# check=` directive, read by the BuildKit rule package's parser.

    Raises ValueError for a directive BuildKit would reject.
    """
    module = _import_family("buildkit")
    parser = getattr(module, "parse_check_directive", None) if module is not None else None
    if parser is not None:
        return parser(value or "")
    # the BuildKit package is not there: read skip= and error= only
    skip: set[str] = set()
    skip_all = error = False
    for part in (value or "").split(";"):
        key, _, val = part.strip().partition("=")
        if key.strip() == "skip":
            names = {v.strip() for v in val.split(",") if v.strip()}
            skip_all = skip_all or names == {"all"}
            skip |= names
        elif key.strip() == "error":
            error = val.strip().lower() in ("true", "1", "t")
    return _CheckDirective(frozenset(skip), skip_all, error)


def _check_enables(check: Any, code: str) -> bool:
    enables = getattr(check, "enables", None)
    if enables is not None:
        return bool(enables(code))
    return not getattr(check, "skip_all", False) and code not in getattr(check, "skip", ())


# ---------------------------------------------------------------------------
# One file


def _describe_unexpected(lines: Sequence[str], line: int, column: int) -> str:
    if 1 <= line <= len(lines):
        text = lines[line - 1]
        if 1 <= column <= len(text):
            return f"unexpected {text[column - 1]!r}"
        return "unexpected end of line" if line < len(lines) else "unexpected end of input"
    return "unexpected end of input"


def _parse_failure(exc: Any, lines: Sequence[str]) -> ParseFailure:
    loc = exc.location
    line = max(1, loc.line if loc is not None else 1)
    column = max(1, loc.column if loc is not None else 1)
    source_line = lines[line - 1] if 1 <= line <= len(lines) else None
    message = f"{_describe_unexpected(lines, line, column)}\n{exc.message}"
    return ParseFailure(line, column, message, source_line)


def _unknown_instruction(dockerfile: Dockerfile) -> ParseFailure | None:
    for inst in dockerfile.instructions:
        if inst.keyword not in KEYWORDS:
            source_line = dockerfile.source_line(inst.start_line)
            column = max(1, inst.column)
            first = inst.written_keyword[:1] or "?"
            return ParseFailure(
                inst.start_line,
                column,
                f"unexpected {first!r}\nunknown instruction: {inst.written_keyword.upper()}"
                f" (expected one of {', '.join(sorted(k.upper() for k in KEYWORDS))})",
                source_line,
            )
    return None


def _refused(dockerfile: Dockerfile) -> ParseFailure | None:
    """What the build refuses (an invalid instruction, a plan error) as a DL1000."""
    from builder.lint.validation import build_refusal

    exc = build_refusal(dockerfile)
    if exc is None:
        return None
    loc = exc.location
    line = max(1, loc.line if loc is not None else 1)
    column = max(1, loc.column if loc is not None else 1)
    return ParseFailure(line, column, exc.message, dockerfile.source_line(line))


@dataclass
class _Prepared:
    path: str
    dockerfile: Dockerfile | None = None
    pragmas: Pragmas | None = None
    parse_error: ParseFailure | None = None
    scripts: list[Script] = field(default_factory=list)
    check: Any = None  #: the `# check=` settings when BuildKit's checks run


def _prepare(path: str, data: str | bytes, config: LintConfig) -> _Prepared:
    from builder.dockerfile.parser import parse
    from builder.errors import ParseError

    prepared = _Prepared(path)
    try:
        dockerfile = parse(data, path=path)
    except ParseError as exc:
        text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
        lines = text.removeprefix("\ufeff").split("\n")
        if exc.message == "file with no instructions":
            return prepared  # hadolint: an empty Dockerfile has nothing to report
        prepared.parse_error = _parse_failure(exc, lines)
        return prepared
    prepared.parse_error = _unknown_instruction(dockerfile) or _refused(dockerfile)
    if prepared.parse_error is not None:
        return prepared
    directive = dockerfile.directive("check")
    if directive is not None or config.buildkit_checks:
        try:
            prepared.check = parse_check_directive(directive)
        except ValueError as exc:
            line = next((d.line for d in dockerfile.directives if d.name == "check"), 1)
            source_line = dockerfile.source_line(line)
            unexpected = _describe_unexpected(dockerfile.lines, line, 1)
            prepared.parse_error = ParseFailure(
                line, 1, f"{unexpected}\ninvalid check directive: {exc}", source_line
            )
            return prepared
    prepared.dockerfile = dockerfile
    prepared.pragmas = collect(dockerfile.comments)
    if config.shellcheck:
        from builder.lint.shellcheck import collect_scripts

        final_newline = data.endswith(b"\n") if isinstance(data, bytes) else data.endswith("\n")
        prepared.scripts = collect_scripts(
            dockerfile, prepared.pragmas, final_newline=final_newline
        )
    return prepared


def _run_rules(
    rules: Iterable[Rule],
    ctx: LintContext,
    config: LintConfig,
    errors: list[str],
    *,
    as_error: bool = False,
) -> list[Finding]:
    found: list[Finding] = []
    path = ctx.path
    for rule in rules:
        if rule.code in config.ignored:
            continue
        base = Severity.ERROR if as_error else rule.severity
        severity = config.overrides.get(rule.code, base)
        if severity == Severity.IGNORE:
            continue
        try:
            for v in rule.check(ctx):
                found.append(
                    Finding(rule.code, severity, v.message or rule.message, path, v.line, v.column)
                )
        except Exception as exc:  # a rule bug must not hide the other findings
            errors.append(f"rule {rule.code} failed on {path}: {type(exc).__name__}: {exc}")
    return found


def _finish(prepared: _Prepared, found: list[Finding], config: LintConfig) -> FileResult:
    pragmas = prepared.pragmas
    use_pragmas = pragmas is not None and not config.disable_ignore_pragma
    kept = [
        f
        for f in found
        if f.severity != Severity.IGNORE
        and f.code not in config.ignored
        and not (use_pragmas and pragmas is not None and pragmas.is_ignored(f.code, f.line))
    ]
    kept.sort(key=lambda f: (f.line, f.column, f.code))
    return FileResult(prepared.path, kept, None)


# ---------------------------------------------------------------------------
# Reading inputs


def _read_inputs(
    sources: Iterable[str | os.PathLike[str] | Source],
) -> list[tuple[str, bytes | str]]:
    stdin_data: bytes | None = None
    inputs: list[tuple[str, bytes | str]] = []
    for src in sources:
        if isinstance(src, Source):
            inputs.append((src.name, src.text))
            continue
        name = os.fspath(src)
        if name == "-":
            if stdin_data is None:
                stdin_data = sys.stdin.buffer.read()
            inputs.append(("-", stdin_data))
            continue
        try:
            inputs.append((name, Path(name).read_bytes()))
        except FileNotFoundError:
            raise LintInputError(f"cannot read {name}: no such file") from None
        except IsADirectoryError:
            raise LintInputError(
                f"cannot read {name}: it is a directory",
                hint=f"did you mean {os.path.join(name, 'Dockerfile')}?",
            ) from None
        except OSError as exc:
            raise LintInputError(f"cannot read {name}: {exc.strerror}") from None
    return inputs


# ---------------------------------------------------------------------------
# The run


def lint(
    sources: str | os.PathLike[str] | Source | Iterable[str | os.PathLike[str] | Source],
    config: LintConfig | None = None,
    *,
    rules: RuleSet | None = None,
) -> LintResult:
    """Lint Dockerfiles.

    `sources`: paths (`-` is standard input) and `Source(text, name)` objects,
    or one of them. `config`: a `LintConfig` (see `builder.lint.config.resolve`
    to read it the way the CLI does); defaults otherwise. `rules`: the rules to
    run instead of the rule packages' (tests use this).
    Raises `LintInputError` when a file cannot be read and `ShellcheckError`
    when ShellCheck is needed but missing.
    """
    config = config or LintConfig()
    if isinstance(sources, str | os.PathLike | Source):
        sources = [sources]
    inputs = _read_inputs(sources)
    prepared = [_prepare(name, data, config) for name, data in inputs]
    if rules is not None:
        ruleset = rules
    else:  # import only the rule packages this run needs
        buildkit = any(p.check is not None for p in prepared)
        ruleset = RuleSet(
            family_rules("hadolint"),
            family_rules("buildkit") if buildkit else (),
            family_rules("context") if config.context_dir is not None else (),
        )

    run = None
    if config.shellcheck:
        from builder.lint.shellcheck import ShellcheckRun

        texts = [s.text for p in prepared for s in p.scripts]
        run = ShellcheckRun(texts, config.shellcheck_program, config.jobs, config.cache_dir)

    errors: list[str] = []
    settings = config.rule_settings()
    found_per_file: list[list[Finding]] = []
    try:
        for item in prepared:
            found_per_file.append(_lint_dockerfile(item, config, ruleset, settings, errors))
        comments = run.wait() if run is not None else []
    finally:
        if run is not None:
            run.close()

    if run is not None:
        from builder.lint.shellcheck import pick

        position = 0
        for item, found in zip(prepared, found_per_file, strict=True):
            for script in item.scripts:
                chosen = pick(comments[position])
                position += 1
                if chosen is None:
                    continue
                code = f"SC{chosen.code}"
                severity = config.overrides.get(code, chosen.severity)
                found.append(Finding(code, severity, chosen.message, item.path, script.line, 1))

    files = [
        FileResult(item.path, [], item.parse_error)
        if item.parse_error is not None
        else _finish(item, found, config)
        for item, found in zip(prepared, found_per_file, strict=True)
    ]
    return LintResult(files, config, errors)


def _lint_dockerfile(
    item: _Prepared,
    config: LintConfig,
    ruleset: RuleSet,
    settings: Any,
    errors: list[str],
) -> list[Finding]:
    if item.dockerfile is None:
        return []
    ctx = build_context(item.dockerfile, settings)
    found = _run_rules(ruleset.hadolint, ctx, config, errors)
    if item.check is not None:
        enabled = [r for r in ruleset.buildkit if _check_enables(item.check, r.code)]
        found += _run_rules(
            enabled, ctx, config, errors, as_error=bool(getattr(item.check, "error", False))
        )
    if ruleset.context and config.context_dir is not None:
        found += _run_rules(ruleset.context, ctx, config, errors)
    return found


def lint_text(
    text: str | bytes,
    path: str = "Dockerfile",
    config: LintConfig | None = None,
    *,
    rules: RuleSet | None = None,
) -> FileResult:
    """Lint one Dockerfile given as text."""
    return lint(Source(text, path), config, rules=rules).files[0]
