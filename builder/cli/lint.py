"""`pybuild lint`: hadolint's command line, on pybuild's linter.

Registered in `builder.cli.main` with `app.command("lint")(lint_command)`.
Everything heavy (the engine, YAML, the parser) is imported inside the
command, so `pybuild --help` does not pay for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

_FORMATS_HELP = (
    "Output format: tty, json, checkstyle, codeclimate, gitlab_codeclimate, gnu, "
    "codacy, sonarqube, sarif, junit (default: tty)."
)


def lint_command(
    dockerfiles: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[DOCKERFILE...|-]",
            help="Dockerfiles to lint; - reads standard input (default: ./Dockerfile).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Config file (default: ./.hadolint.yaml, then ~/.config/hadolint.yaml ...).",
        ),
    ] = None,
    output_format: Annotated[
        str | None, typer.Option("--format", "-f", metavar="FORMAT", help=_FORMATS_HELP)
    ] = None,
    failure_threshold: Annotated[
        str | None,
        typer.Option(
            "--failure-threshold",
            "-t",
            metavar="THRESHOLD",
            help="Fail only for findings at or above: error, warning, info, style, ignore, none "
            "(default: info).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="RULECODE", help="Ignore a rule (repeatable)."),
    ] = None,
    error: Annotated[
        list[str] | None,
        typer.Option("--error", metavar="RULECODE", help="Make a rule an error (repeatable)."),
    ] = None,
    warning: Annotated[
        list[str] | None,
        typer.Option("--warning", metavar="RULECODE", help="Make a rule a warning (repeatable)."),
    ] = None,
    info: Annotated[
        list[str] | None,
        typer.Option("--info", metavar="RULECODE", help="Make a rule info (repeatable)."),
    ] = None,
    style: Annotated[
        list[str] | None,
        typer.Option("--style", metavar="RULECODE", help="Make a rule style (repeatable)."),
    ] = None,
    trusted_registry: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-registry",
            metavar="REGISTRY",
            help="Allow FROM images only from these registries (repeatable), e.g. docker.io.",
        ),
    ] = None,
    require_label: Annotated[
        list[str] | None,
        typer.Option(
            "--require-label",
            metavar="LABEL:FORMAT",
            help="Require a label of a format: text, url, semver, hash, rfc3339, spdx, email.",
        ),
    ] = None,
    strict_labels: Annotated[
        bool, typer.Option("--strict-labels", help="Allow no labels but the required ones.")
    ] = False,
    no_fail: Annotated[
        bool, typer.Option("--no-fail", help="Exit 0 even when rules are violated.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Never colour the output.")] = False,
    disable_ignore_pragma: Annotated[
        bool,
        typer.Option("--disable-ignore-pragma", help="Ignore `# hadolint ignore=...` comments."),
    ] = False,
    buildkit_checks: Annotated[
        bool,
        typer.Option(
            "--buildkit-checks",
            help="Also run BuildKit's build checks (on anyway with a `# check=` directive).",
        ),
    ] = False,
    context: Annotated[
        Path | None,
        typer.Option(
            "--context",
            metavar="DIR",
            help="Build context: run the rules that look at it (COPY sources, .dockerignore).",
        ),
    ] = None,
    file_path_in_report: Annotated[
        str | None,
        typer.Option(
            "--file-path-in-report",
            metavar="PATH",
            help="Path to print in checkstyle, codeclimate, gitlab_codeclimate, sonarqube "
            "and junit reports.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Do not reuse ShellCheck results from earlier runs "
            "(kept in $XDG_CACHE_HOME/pybuild/lint-shellcheck).",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE."),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-V", help="Print the configuration used to stderr.")
    ] = False,
) -> None:
    """Lint Dockerfiles like hadolint: hadolint's rules, ShellCheck, BuildKit checks.

    Reads .hadolint.yaml and the HADOLINT_* variables as hadolint does. Exit
    status: 1 when a finding reaches the failure threshold (or a file does not
    parse), else 0.
    """
    import time

    from builder.api import lint_config, lint_dockerfile
    from builder.errors import PybuildError
    from builder.lint.config import PartialConfig, describe, parse_format, parse_label
    from builder.lint.config import parse_severity as severity_option

    started = time.perf_counter()
    try:
        cli = PartialConfig(
            no_fail=True if no_fail else None,
            no_color=True if no_color else None,
            verbose=True if verbose else None,
            strict_labels=True if strict_labels else None,
            disable_ignore_pragma=True if disable_ignore_pragma else None,
            format=parse_format(output_format, "--format") if output_format else None,
            failure_threshold=(
                severity_option(failure_threshold, "--failure-threshold")
                if failure_threshold
                else None
            ),
            error_rules=list(error or ()),
            warning_rules=list(warning or ()),
            info_rules=list(info or ()),
            style_rules=list(style or ()),
            ignored=list(ignore or ()),
            trusted_registries=list(trusted_registry or ()),
            label_schema=dict(parse_label(item, "--require-label") for item in require_label or ()),
        )
        settings = lint_config(
            cli,
            config_file=config,
            buildkit_checks=buildkit_checks,
            context=context,
            file_path_in_report=file_path_in_report,
            shellcheck_cache=not no_cache,
        )
        files = list(dockerfiles or ())
        if not files:
            if not Path("Dockerfile").is_file():
                raise PybuildError(
                    "no Dockerfile given, and there is no ./Dockerfile",
                    hint="pybuild lint [OPTIONS] DOCKERFILE... (- reads standard input)",
                )
            files = ["Dockerfile"]
        if settings.verbose:
            sys.stderr.write(describe(settings) + "\n")
        result = lint_dockerfile(files, settings)
        color = (
            settings.format == "tty"
            and not settings.no_color
            and output is None
            and sys.stdout.isatty()
        )
        report = result.render(color=color).encode("utf-8", "surrogateescape")
        if output is not None:
            try:
                output.write_bytes(report)
            except OSError as exc:
                raise PybuildError(f"cannot write {output}: {exc.strerror}") from None
        else:
            sys.stdout.buffer.write(report)
            sys.stdout.buffer.flush()
        for problem in result.internal_errors:
            sys.stderr.write(f"pybuild lint: internal error: {problem}\n")
        if settings.verbose:
            elapsed = time.perf_counter() - started
            count = len(result.findings)
            sys.stderr.write(
                f"linted {len(result.files)} file(s) in {elapsed:.3f}s: {count} finding(s), "
                f"exit status {result.exit_code}\n"
            )
    except PybuildError as err:
        sys.stderr.write("pybuild lint: " + err.render() + "\n")
        raise typer.Exit(1) from None
    raise typer.Exit(result.exit_code)
