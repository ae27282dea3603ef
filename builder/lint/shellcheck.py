"""ShellCheck findings (`SCxxxx`) for RUN instructions, as hadolint reports them.

What hadolint does, and so what this module does:

- It checks the script of every shell-form RUN (and ONBUILD RUN); exec-form
  RUNs are not checked. Continuation lines are joined the way hadolint
  joins them. For a heredoc RUN (`RUN <<EOF`) the heredoc body is the
  script; a command with heredocs (`RUN cat <<EOF >f`) is checked with its
  heredocs written out.
- The script starts with a shebang naming the current shell: the first word
  of the SHELL instruction, or of a `# hadolint shell=` pragma, `/bin/sh`
  by default. FROM resets the shell and the variables, except `FROM
  <earlier stage>`, which goes on from that stage. Shells whose SHELL line
  mentions `pwsh`, `powershell` or `cmd` are not checked at all.
- Then one `export NAME=1` line per variable the stage defined with ARG or
  ENV, and the proxy variables Docker predefines, so they count as assigned
  (pybuild leaves out those the script does not mention: same findings,
  less work for ShellCheck).
- SC2187 (ash is checked as dash), SC1090 and SC1091 (sourced files) and
  SC2002 (off by default in newer ShellCheck) are never reported.
- Every finding is reported on the RUN's first line, and of the findings of
  one RUN only the last in ShellCheck's own order (line, column, severity,
  code) is kept: hadolint collects them in a set whose elements compare by
  line only.

One deliberate difference: hadolint 2.15 forgets the SHELL after any ENV or
ARG instruction (it checks with `/bin/sh` again); here SHELL holds until the
next SHELL or FROM.

ShellCheck runs as a program (`shellcheck --norc -f json1`): all the scripts
of a lint run are written to temporary files, identical scripts once, and
checked by a few ShellCheck processes in parallel (one per CPU, at most)
while the Python rules run. An optional on-disk cache keeps the results.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.dockerfile.ast import Dockerfile, Instruction
from builder.errors import PybuildError
from builder.lint.model import Severity
from builder.lint.pragmas import Pragmas

DEFAULT_SHELL = "/bin/sh -c"
#: Variables Docker defines for every build (its proxy build args).
DEFAULT_VARIABLES: frozenset[str] = frozenset(
    {
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
        "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
    }
)  # fmt: skip
#: Substrings of a SHELL line that mark a shell ShellCheck cannot check.
NON_POSIX_MARKERS: tuple[str, ...] = ("pwsh", "powershell", "cmd")
#: ShellCheck codes hadolint never reports: 2187 (ash is checked as dash)
#: and 1090 (non-constant source) it turns off; 1091 (source not followed)
#: cannot happen with the in-memory file system hadolint gives ShellCheck;
#: 2002 (useless cat) is off by default since ShellCheck 0.10, which
#: the ShellCheck hadolint 2.15 is built with has (Debian 12 ships 0.9).
EXCLUDED_CODES: tuple[int, ...] = (2187, 1090, 1091, 2002)

_LEVELS: dict[str, tuple[int, Severity]] = {
    # ShellCheck's own severity order (error first), and hadolint's severity
    "error": (0, Severity.ERROR),
    "warning": (1, Severity.WARNING),
    "info": (2, Severity.INFO),
    "style": (3, Severity.STYLE),
}
_MIN_SCRIPTS_PER_PROCESS = 8


class ShellcheckError(PybuildError):
    """ShellCheck is missing or failed."""


@dataclass(frozen=True)
class Script:
    """One RUN script, ready for ShellCheck."""

    line: int  #: the Dockerfile line of the RUN
    text: str  #: shebang, exports and the script


@dataclass(frozen=True)
class Comment:
    """One ShellCheck finding, positions inside the script file."""

    code: int
    level: str
    message: str
    line: int
    column: int

    @property
    def severity(self) -> Severity:
        return _LEVELS.get(self.level, (0, Severity.ERROR))[1]

    def order(self) -> tuple[int, int, int, int, str]:
        """ShellCheck's sort key for the comments of one script."""
        rank = _LEVELS.get(self.level, (0, Severity.ERROR))[0]
        return (self.line, self.column, rank, self.code, self.message)


def pick(comments: Iterable[Comment]) -> Comment | None:
    """The one comment hadolint keeps for a RUN: the last in ShellCheck's order."""
    best: Comment | None = None
    for comment in comments:
        if best is None or comment.order() >= best.order():
            best = comment
    return best


# ---------------------------------------------------------------------------
# Scripts


def is_checked_shell(shell: str) -> bool:
    return not any(marker in shell for marker in NON_POSIX_MARKERS)


def joined_command(
    inst: Instruction, lines: Sequence[str], escape: str = "\\", *, keep_final_escape: bool = False
) -> str | None:
    """The command of a shell-form instruction joined as hadolint joins it.

    BuildKit keeps the indentation of continuation lines; hadolint drops it
    when the escape character ends its line (`\\` then newline), and keeps
    the escape character that ends a file without a final newline
    (`keep_final_escape`).
    ShellCheck sees the difference (SC2291, SC1072), so the command is rebuilt
    from the source lines. For ONBUILD, the command of the wrapped RUN. None
    when the source does not line up with the parsed instruction.
    """
    if inst.start_line < 1 or inst.end_line > len(lines):
        return None
    parts: list[str] = []
    strip_next = False
    last = inst.end_line - inst.start_line
    for offset, raw in enumerate(lines[inst.start_line - 1 : inst.end_line]):
        line = raw.removesuffix("\r")
        if offset:
            body = line.lstrip(" \t")
            if not body or body.startswith("#"):
                continue  # blank and comment lines inside a continuation
            if strip_next:
                line = body
        head = line.rstrip(" \t")
        if head.endswith(escape) and not (offset == last and keep_final_escape):
            strip_next = len(head) == len(line)  # the escape right before the newline
            line = head[: -len(escape)]
        parts.append(line)
    rest = "".join(parts)
    words = [inst.written_keyword, *inst.flags]
    if inst.child is not None:
        words += [inst.child.written_keyword, *inst.child.flags]
    for word in words:
        rest = rest.lstrip(" \t")
        if not rest.lower().startswith(word.lower()):
            return None
        rest = rest[len(word) :]
    return rest.lstrip(" \t")


def run_script_text(
    inst: Instruction,
    lines: Sequence[str] = (),
    escape: str = "\\",
    *,
    keep_final_escape: bool = False,
) -> str | None:
    """The shell script of a RUN (or ONBUILD RUN); None for exec form or no command."""
    run = inst.child if inst.child is not None else inst
    if run.json or not run.args:
        return None
    if inst.heredocs:
        text = run.args[0]
        first_word = text.split(None, 1)[0] if text.strip() else ""
        if first_word.lstrip("0123456789").startswith("<<"):
            # `RUN <<EOF` (or `RUN <<EOF bash`): the heredoc body is the script
            return inst.heredocs[0].content
        # a command reading heredocs: write them out after the command line
        return text + "\n" + "".join(h.content + h.name + "\n" for h in inst.heredocs)
    if lines and (inst.end_line > inst.start_line or keep_final_escape):
        joined = joined_command(inst, lines, escape, keep_final_escape=keep_final_escape)
        if joined is not None:
            return joined
    return run.args[0]


def _var_names(inst: Instruction) -> list[str]:
    if inst.keyword == "env":
        return [kv.key for kv in inst.key_values]
    # ARG name[=default] ...
    return [word.split("=", 1)[0] for word in inst.args if word]


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def script_header(shell: str, variables: Iterable[str], body: str | None = None) -> str:
    """`#!shell` and one `export NAME=1` line per variable, sorted as hadolint sorts them.

    With `body`, the exports of variables the script cannot refer to (valid
    names that do not occur in its text) are left out: ShellCheck reports
    nothing about them, and each costs it time (about 0.4 ms per script).
    """
    words = shell.split()
    names = set(variables)
    if body is not None:
        names = {n for n in names if n in body or not _IDENTIFIER.fullmatch(n)}
    exports = sorted(f"export {name}=1" for name in names)
    return "#!" + (words[0] if words else "") + "\n" + "".join(line + "\n" for line in exports)


def _from_parts(inst: Instruction) -> tuple[str, str | None]:
    """FROM's image and `AS` name, as written."""
    args = inst.args
    alias = args[2] if len(args) >= 3 and args[1].lower() == "as" else None
    return (args[0] if args else ""), alias


def collect_scripts(
    dockerfile: Dockerfile, pragmas: Pragmas | None = None, *, final_newline: bool = True
) -> list[Script]:
    """The ShellCheck scripts of every RUN of a Dockerfile, in order.

    FROM resets the shell and the variables, except that `FROM <earlier
    stage>` (names compared as written, as hadolint does) starts from that
    stage's variables and shell. `final_newline`: whether the source ends
    with a newline.
    """
    instructions = dockerfile.instructions
    lines = dockerfile.lines
    escape = dockerfile.escape
    first_from = next((i.start_line for i in instructions if i.keyword == "from"), None)
    shell_pragmas = list(pragmas.shells) if pragmas is not None else []
    global_shell = DEFAULT_SHELL
    for line, pragma_shell in shell_pragmas:
        if first_from is None or line < first_from:
            global_shell = pragma_shell
    events = [(ln, sh) for ln, sh in shell_pragmas if first_from is not None and ln > first_from]
    shell = global_shell
    variables: set[str] = set(DEFAULT_VARIABLES)
    alias: str | None = None
    stages: dict[str, tuple[set[str], str]] = {}
    scripts: list[Script] = []
    next_event = 0
    for inst in instructions:
        while next_event < len(events) and events[next_event][0] < inst.start_line:
            shell = events[next_event][1]
            next_event += 1
        keyword = inst.keyword
        if keyword == "from":
            if alias is not None:
                stages[alias] = (variables, shell)
            image, alias = _from_parts(inst)
            parent = stages.get(image)
            variables = set(parent[0]) if parent else set(DEFAULT_VARIABLES)
            shell = parent[1] if parent else global_shell
        elif keyword in ("arg", "env"):
            variables.update(_var_names(inst))
        elif keyword == "shell":
            shell = " ".join(inst.args)
        elif keyword == "run" or (keyword == "onbuild" and inst.sub_keyword == "run"):
            if not is_checked_shell(shell):
                continue
            keep = not final_newline and inst.end_line == len(lines)
            text = run_script_text(inst, lines, escape, keep_final_escape=keep)
            if text is not None:
                header = script_header(shell, variables, text)
                scripts.append(Script(inst.start_line, header + text))
    return scripts


# ---------------------------------------------------------------------------
# Running ShellCheck


def find_program(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise ShellcheckError(
            f"ShellCheck is not installed: '{program}' was not found on PATH",
            hint="install it (Debian/Ubuntu: apt-get install shellcheck) to lint RUN scripts",
        )
    return found


def _balanced_chunks(sizes: Sequence[int], count: int) -> list[list[int]]:
    """Split script indexes into `count` groups of similar total size."""
    chunks: list[list[int]] = [[] for _ in range(count)]
    totals = [0] * count
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        target = totals.index(min(totals))
        chunks[target].append(index)
        totals[target] += sizes[index] + 200  # + per-script overhead
    return [sorted(c) for c in chunks if c]


class ShellcheckCache:
    """ShellCheck's comments per script, kept on disk between runs.

    One small JSON file per script, named by a hash of the script and of the
    ShellCheck program (its path, size and modification time), written
    atomically: several lint processes may share the directory.
    """

    VERSION = "1"

    def __init__(self, directory: Path, executable: str):
        st = os.stat(executable)
        self.directory = directory
        excluded = ",".join(map(str, EXCLUDED_CODES))
        self._salt = f"{self.VERSION}\0{executable}\0{st.st_size}\0{st.st_mtime_ns}\0{excluded}\0"

    def _path(self, script: str) -> Path:
        key = hashlib.sha256((self._salt + script).encode("utf-8", "surrogateescape")).hexdigest()
        return self.directory / key[:2] / key[2:]

    def get(self, script: str) -> list[Comment] | None:
        try:
            data = json.loads(self._path(script).read_bytes())
            return [Comment(*item) for item in data]
        except (OSError, ValueError, TypeError):
            return None

    def put(self, script: str, comments: Sequence[Comment]) -> None:
        path = self._path(script)
        data = json.dumps([[c.code, c.level, c.message, c.line, c.column] for c in comments])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written is only slower


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/pybuild/lint-shellcheck` (`~/.cache` when unset)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybuild" / "lint-shellcheck"


class ShellcheckRun:
    """ShellCheck processes started for a list of scripts; `wait()` collects them.

    Identical scripts are checked once; with a `cache_dir`, scripts checked
    in an earlier run are not checked again.
    """

    def __init__(
        self,
        scripts: Sequence[str],
        program: str = "shellcheck",
        jobs: int | None = None,
        cache_dir: Path | None = None,
    ):
        self._unique: list[str] = list(dict.fromkeys(scripts))
        index = {text: i for i, text in enumerate(self._unique)}
        self._map = [index[text] for text in scripts]
        self._found: list[list[Comment] | None] = [None] * len(self._unique)
        self._procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._cache: ShellcheckCache | None = None
        self._todo: list[int] = []
        if not self._unique:
            return
        executable = find_program(program)
        if cache_dir is not None:
            self._cache = ShellcheckCache(cache_dir, executable)
            self._found = [self._cache.get(text) for text in self._unique]
        todo = [i for i, found in enumerate(self._found) if found is None]
        self._todo = todo
        if not todo:
            return
        self._tmp = tempfile.TemporaryDirectory(prefix="pybuild-shellcheck-")
        root = Path(self._tmp.name)
        for i in todo:
            # no file extension: ShellCheck must go by the shebang only
            (root / f"s{i}").write_text(self._unique[i], encoding="utf-8", errors="surrogateescape")
            self._found[i] = []
        cpus = jobs or os.cpu_count() or 1
        count = max(1, min(cpus, len(todo) // _MIN_SCRIPTS_PER_PROCESS))
        env = {k: v for k, v in os.environ.items() if k != "SHELLCHECK_OPTS"}
        excluded = ",".join(f"SC{code}" for code in EXCLUDED_CODES)
        sizes = [len(self._unique[i]) for i in todo]
        for n, chunk in enumerate(_balanced_chunks(sizes, count)):
            out_path = root / f"out{n}.json"
            with open(out_path, "wb") as out:
                proc = subprocess.Popen(
                    [executable, "--norc", "-f", "json1", "-e", excluded]
                    + [f"s{todo[k]}" for k in chunk],
                    cwd=root,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    env=env,
                )
            self._procs.append((proc, out_path))

    def wait(self) -> list[list[Comment]]:
        """The comments of each script given, in the order given."""
        try:
            for proc, out_path in self._procs:
                _, stderr = proc.communicate()
                if proc.returncode not in (0, 1):
                    detail = stderr.decode("utf-8", "replace").strip().splitlines()
                    raise ShellcheckError(
                        f"shellcheck failed (exit code {proc.returncode})"
                        + (f": {detail[0]}" if detail else "")
                    )
                try:
                    data = json.loads(out_path.read_bytes() or b"{}")
                except ValueError:
                    raise ShellcheckError("shellcheck printed output that is not JSON") from None
                for item in data.get("comments", ()):
                    name = str(item.get("file", ""))
                    if not name.startswith("s") or not name[1:].isdigit():
                        continue
                    found = self._found[int(name[1:])]
                    if found is not None:
                        found.append(
                            Comment(
                                code=int(item["code"]),
                                level=str(item["level"]),
                                message=str(item["message"]),
                                line=int(item["line"]),
                                column=int(item["column"]),
                            )
                        )
            if self._cache is not None:
                for i in self._todo:
                    self._cache.put(self._unique[i], self._found[i] or [])
        finally:
            self.close()
        return [self._found[i] or [] for i in self._map]

    def close(self) -> None:
        for proc, _ in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def check_scripts(
    scripts: Sequence[str],
    program: str = "shellcheck",
    jobs: int | None = None,
    cache_dir: Path | None = None,
) -> list[list[Comment]]:
    """Run ShellCheck on scripts and wait: the comments of each script."""
    return ShellcheckRun(scripts, program, jobs, cache_dir).wait()
