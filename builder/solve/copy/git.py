"""`ADD <git repository>`: what a git source asks for, and fetching it with `git`.

Which sources are git repositories is `kinds.source_kind`'s decision. What
one asks for, as BuildKit's `dfgitutil.ParseGitRef` reads it:

- the remote: the URL (`https://host/repo.git`, `git://host/repo`,
  `ssh://user@host/repo`, scp-like `user@host:path/repo.git`) without
  fragment and query;
- `#ref:subdir` after the URL: a branch, tag or commit, and a directory of
  the repository to copy; or the query form `?ref=`, `?tag=`, `?branch=`,
  `?subdir=`, `?checksum=` (`?commit=`), `?keep-git-dir=`, `?submodules=`.

The repository is fetched with the git CLI (shallow when the server allows
it), the ref checked out, submodules updated; `.git` is dropped unless
`--keep-git-dir`. Only the http, https, git and ssh transports are allowed
(also for submodules), and git runs without the user's configuration.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from builder.errors import BuildError
from builder.snapshot.trees import remove_tree
from builder.solve.copy.kinds import GIT_SCHEMES, SourceKind, redact, source_kind

__all__ = ["GitRef", "fetch_git", "parse_git_ref"]

_HEX_REF: Final = re.compile(r"^[0-9a-f]{7,64}$")
_QUERY_KEYS: Final = (
    "ref", "tag", "branch", "subdir", "checksum", "commit", "keep-git-dir", "submodules",
)  # fmt: skip


@dataclass(frozen=True)
class GitRef:
    """A git source: the remote and what to take from it."""

    remote: str  #: what `git fetch` gets: the URL without fragment and query
    ref: str = ""  #: branch, tag, commit or full ref; "" is the remote's HEAD
    subdir: str = ""
    checksum: str = ""  #: the commit the ref must resolve to (a prefix of it)
    keep_git_dir: bool | None = None
    submodules: bool | None = None

    @property
    def short_name(self) -> str:
        tail = self.remote.rstrip("/").rpartition("/")[2].rpartition(":")[2]
        return tail.removesuffix(".git") or "repo"


def _go_bool(value: str, key: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise BuildError(f"invalid {key} value: {value!r}")


def _apply_query(ref: GitRef, query: str) -> GitRef:
    values = urllib.parse.parse_qs(query, keep_blank_values=True)
    fields: dict[str, Any] = {}
    tag = branch = ""
    for key, items in values.items():
        if key not in _QUERY_KEYS:
            raise BuildError(f"unexpected query {key!r} in git source")
        if len(items) > 1:
            raise BuildError(f"query {key!r} has multiple values")
        value = items[0]
        if value == "" and key not in ("keep-git-dir", "submodules"):
            raise BuildError(f"query {key!r} has no value")
        if key == "tag":
            tag = value if value.startswith("refs/tags/") else "refs/tags/" + value
        elif key == "branch":
            branch = value if value.startswith("refs/heads/") else "refs/heads/" + value
        elif key in ("checksum", "commit"):
            fields["checksum"] = value
        elif key in ("keep-git-dir", "submodules"):
            fields[key.replace("-", "_")] = True if value == "" else _go_bool(value, key)
        else:
            current = getattr(ref, key)
            if current and current != value:
                raise BuildError(f"{key} conflicts: {current!r} vs {value!r}")
            fields[key] = value
    if tag and branch:
        raise BuildError("branch conflicts with tag")
    named = tag or branch
    if named:
        current = str(fields.get("ref", ref.ref))
        if current and current != named:
            raise BuildError(f"ref conflicts: {current!r} vs {named!r}")
        fields["ref"] = named
    result = dataclasses.replace(ref, **fields)
    if result.checksum and not result.ref:
        result = dataclasses.replace(result, ref=result.checksum)
    return result


def parse_git_ref(source: str) -> GitRef | None:
    """The git ref a source names, or None when it is not a git source.

    Raises BuildError for a query it cannot read (`?foo=`, `?tag=a&branch=b`).
    """
    if source_kind(source) is not SourceKind.GIT:
        return None
    if "://" in source:
        parts = urllib.parse.urlsplit(source)
        remote = urllib.parse.urlunsplit(parts._replace(query="", fragment=""))
        ref, _, subdir = parts.fragment.partition(":")
        result = GitRef(remote, ref, subdir)
        return _apply_query(result, parts.query) if parts.query else result
    remote, _, fragment = source.partition("#")  # scp-like: user@host:path#ref:subdir
    ref, _, subdir = fragment.partition(":")
    return GitRef(remote, ref, subdir)


# --------------------------------------------------------------------------
# Fetching


def _git_env(home: Path) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ALLOW_PROTOCOL": ":".join(GIT_SCHEMES),
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
    }
    for name in ("SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
                 "HTTPS_PROXY", "NO_PROXY"):  # fmt: skip
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class _Git:
    def __init__(self, checkout: Path, env: dict[str, str], timeout: float, shown: str) -> None:
        self.checkout = checkout
        self.env = env
        self.timeout = timeout
        self.shown = shown

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                ["git", "-C", str(self.checkout), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                umask=0o022,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise BuildError(
                "git is not installed: it is needed for ADD of a git repository",
                hint="apt-get install git",
            ) from None
        except subprocess.TimeoutExpired:
            raise BuildError(f"git {args[0]} of {self.shown} timed out") from None
        if check and done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise BuildError(
                f"failed to fetch {self.shown}: git {args[0]}: "
                + (detail[-1] if detail else f"exit status {done.returncode}")
            )
        return done


def fetch_git(
    ref: GitRef,
    directory: Path,
    *,
    keep_git_dir: bool = False,
    checksum: str | None = None,
    timeout: float = 600.0,
) -> Path:
    """Check `ref` out below `directory`; return the checkout root (0755 directory).

    Raises BuildError when git fails or the commit is not `checksum`.
    """
    checkout, _ = fetch_git_commit(
        ref, directory, keep_git_dir=keep_git_dir, checksum=checksum, timeout=timeout
    )
    return checkout


def fetch_git_commit(
    ref: GitRef,
    directory: Path,
    *,
    keep_git_dir: bool = False,
    checksum: str | None = None,
    timeout: float = 600.0,
) -> tuple[Path, str]:
    """`fetch_git`, and the commit checked out (for provenance materials)."""
    shown = redact(ref.remote) + (f"#{ref.ref}" if ref.ref else "")
    checkout = directory / "checkout"
    home = directory / "home"
    checkout.mkdir()
    home.mkdir()
    git = _Git(checkout, _git_env(home), timeout, shown)
    git.run("init", "-q")
    git.run("remote", "add", "origin", ref.remote)
    wanted = ref.ref or "HEAD"
    shallow = git.run("fetch", "-q", "--depth=1", "--no-tags", "origin", wanted, check=False)
    if shallow.returncode == 0:
        git.run("checkout", "-q", "--detach", "FETCH_HEAD")
    elif _HEX_REF.match(wanted):
        # a commit the server will not serve by id: fetch everything, then find it
        git.run("fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
        git.run("checkout", "-q", "--detach", f"{wanted}^{{commit}}")
    else:
        detail = (shallow.stderr or shallow.stdout).strip().splitlines()
        raise BuildError(
            f"failed to fetch {shown}: " + (detail[-1] if detail else "git fetch failed"),
            hint="check the repository URL and that the branch, tag or commit exists",
        )
    commit = git.run("rev-parse", "HEAD").stdout.strip()
    expected = checksum or ref.checksum
    if expected and not commit.startswith(expected):
        raise BuildError(
            f"checksum mismatch for {shown}: the commit is {commit}, expected {expected}"
        )
    if ref.submodules is not False and (checkout / ".gitmodules").is_file():
        git.run("submodule", "update", "--init", "--recursive", "--depth=1")
    keep = ref.keep_git_dir if ref.keep_git_dir is not None else keep_git_dir
    if not keep:
        remove_tree(checkout / ".git")
    checkout.chmod(0o755)
    return checkout, commit
