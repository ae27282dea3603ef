"""`RUN --mount`: the OCI mounts (and environment) for one RUN step, and undoing them after.

`prepare_mounts` turns the parsed mounts of a step into `runtime.spec.Mount`
entries, with BuildKit's semantics:

- bind: `source` (default the root) of the build context, or of `from=` (a
  stage or an image root the executor provides), resolved inside that root
  (symlinks and `..` cannot leave it). Read-only unless `rw`; writes then
  go to a private copy and are discarded. With .dockerignore rules the
  context is seen as sent: a filtered view (hard links, else copies) is bound
  instead of the directory itself.
- cache: a persistent directory (`cache_mounts`) per id (default: the
  target as written), `sharing` shared, private or locked; `from=`/`source=`
  seed a new cache; `uid`/`gid`/`mode` (default 0:0 0755) apply to a new one.
- tmpfs: a tmpfs, `size=` its limit.
- secret: id = `id`, else `source`, else the target's base name; a file at
  `target` (default /run/secrets/<id> unless `env=` is given), mode 0400
  and 0:0 unless told, and/or the environment variable `env=`. It lives in a
  private 0700 directory outside the root filesystem (on /dev/shm when
  possible) and is deleted afterwards. A missing secret is skipped unless
  `required`.
- ssh: a socket at `target` (default /run/buildkit/ssh_agent.<n>, n the
  index among the step's ssh mounts) relaying to the `--ssh` agent of `id`
  (default "default"), mode 0600 and 0:0 unless told; SSH_AUTH_SOCK names
  the first one mounted unless the step's environment sets it. A missing
  agent is skipped unless `required`. Sockets and key agents live in
  `pybuild-ssh-<pid>-<start>-*` (in /dev/shm, else the system temp dir),
  which the store's recovery removes, stopping the agents, after a kill -9.

Relative targets are taken from the step's working directory. Mounts come
out parents first. Everything made (copies, secret files, sockets, agents,
cache locks) is removed or released when the block ends, however it ends.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from builder.dockerfile.mounts import Mount as MountFlag
from builder.errors import BuildError
from builder.runtime.rootpath import resolve_in_root
from builder.runtime.spec import Mount
from builder.snapshot.trees import remove_tree
from builder.solve.copy.source import Ignore, SourceTree
from builder.solve.mounts.cache import CacheSpec, hold_cache_dir
from builder.solve.mounts.keys import context_paths, rooted, secret_ids, ssh_ids
from builder.solve.mounts.keys import secret_id as id_of_secret
from builder.solve.mounts.secrets import (
    SECRET_SYNTAX,
    SecretSource,
    parse_secret_option,
    read_secret,
)
from builder.solve.mounts.ssh import forward_agent, is_socket, key_agent, parse_ssh_option
from builder.solve.mounts.trees import Visible, clone_tree
from builder.store.owners import owned_name
from builder.store.recovery import wipe_tree

__all__ = [
    "MountSources",
    "PreparedMounts",
    "SecretSource",
    "context_paths",
    "parse_secret_option",
    "parse_ssh_option",
    "prepare_mounts",
    "secret_ids",
    "ssh_ids",
]

SECRETS_DIR = "/run/secrets"
SSH_TARGET = "/run/buildkit/ssh_agent.{}"
SECRET_OPTIONS = ("rbind", "ro", "nosuid", "nodev", "noexec")
_SHM = Path("/dev/shm")
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class MountSources:
    """Where the mounts of a build read from. One per build; the executor fills it in."""

    context_dir: Path  #: the build context directory
    #: a read-only root directory for `from=`: a stage name or index, or an image reference
    stage_root: Callable[[str], Path]
    cache_root: Path | None = None  #: `Store.cache_root`; caches go to <cache_root>/mounts
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)  #: from --secret
    ssh: Mapping[str, Sequence[Path]] = field(default_factory=dict)  #: from --ssh
    ignore: Ignore | None = None  #: the context's .dockerignore rules
    #: a stable identity (cache key, digest) of a `from=` root: a cache seeded
    #: from a changed stage is then a new cache, as in BuildKit. Default: the name.
    stage_identity: Callable[[str], str] | None = None
    environ: Mapping[str, str] | None = None  #: for env secrets (default: os.environ)


class PreparedMounts(NamedTuple):
    """The step's extra OCI mounts, and environment variables to set (secrets, SSH_AUTH_SOCK).

    `env` may hold secret values: never log it or put it in a cache key.
    """

    mounts: list[Mount]
    env: dict[str, str]


# --------------------------------------------------------------------------
# What a step's mounts depend on (for cache keys and progress: ids, never values)


# --------------------------------------------------------------------------
# Preparation


def _target(flag: MountFlag, workdir: str) -> str:
    target = flag.target or ""
    if "\0" in target:
        raise BuildError(f"invalid mount target {target!r}")
    target = rooted(target if target.startswith("/") else posixpath.join(workdir, target))
    if target == "/":
        raise BuildError(
            f'invalid mount target "{target}" in --mount={flag.raw}',
            hint="mount on a directory below /, e.g. target=/src",
        )
    return target


def _default_secret_dir(fallback: Path) -> Path:
    """/dev/shm (memory) when usable, so secrets never reach a disk; else `fallback`."""
    if _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK):
        return _SHM
    return fallback


def _sets_ssh_auth_sock(step_env: Sequence[str]) -> bool:
    return any(item.partition("=")[0] == "SSH_AUTH_SOCK" for item in step_env)


class _Preparation:
    """The state of one `prepare_mounts` call; `stack` undoes everything."""

    def __init__(
        self,
        sources: MountSources,
        stack: ExitStack,
        work_dir: Path,
        workdir: str,
        secret_dir: Path | None,
        cancel: threading.Event | None,
        insecure: bool,
    ) -> None:
        self.sources = sources
        self.stack = stack
        self.work_dir = work_dir
        self.workdir = workdir
        self.secret_parent = secret_dir
        self.cancel = cancel
        self.insecure = insecure
        self.env: dict[str, str] = {}
        self.ssh_sock_env: str | None = None
        self.roots: dict[str, Path] = {}
        self.caches: dict[str, Path] = {}
        self.agents: dict[str, Path] = {}
        self._private: Path | None = None
        self._secrets: Path | None = None
        self._sockets: Path | None = None
        self._count = 0

    # -- private directories, made on first use and removed at the end

    def _temp_dir(self, parent: Path | None, prefix: str) -> Path:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.stack.callback(remove_tree, path, ignore_errors=True)
        return path

    def _owned_dir(self, parent: Path, kind: str) -> Path:
        """`parent/pybuild-<kind>-<pid>-<start>-*`: a later command removes it after a crash."""
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / owned_name(f"pybuild-{kind}")
        path.mkdir(mode=0o700)
        self.stack.callback(wipe_tree, path)
        return path

    def private(self) -> Path:
        if self._private is None:
            self._private = self._temp_dir(self.work_dir, "run-mounts-")
        return self._private

    def secret_dir(self) -> Path:
        if self._secrets is None:
            parent = self.secret_parent or _default_secret_dir(self.work_dir)
            self._secrets = self._owned_dir(parent, "secrets")
        return self._secrets

    def socket_dir(self) -> Path:
        # Short (a socket path must fit in 108 bytes): /dev/shm, else the system
        # temp dir; named with the owner, so a later command removes it (and stops
        # its key agents, see `key_agent`) after a kill -9.
        if self._sockets is None:
            self._sockets = self._owned_dir(_default_secret_dir(Path(tempfile.gettempdir())), "ssh")
        return self._sockets

    def new_name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}-{self._count}"

    # -- sources

    def stage(self, name: str) -> Path:
        if name not in self.roots:
            self.roots[name] = Path(self.sources.stage_root(name))
        return self.roots[name]

    def resolve(self, flag: MountFlag) -> tuple[Path, str, Visible | None]:
        """The host path of the mount's source, its path in its root, and a filter (context)."""
        if flag.from_:
            root, what, ignore = self.stage(flag.from_), f'"{flag.from_}"', None
        else:
            root, what, ignore = self.sources.context_dir, "the build context", self.sources.ignore
        source = flag.source or "/"
        shown = rooted(source)
        not_found = BuildError(
            f'RUN --mount={flag.raw}: source "{shown}" not found in {what}',
            hint="files excluded by .dockerignore are not part of the context"
            if ignore is not None
            else "the source is resolved inside its root, symlinks included",
        )
        try:
            if ignore is not None:
                tree = self.stack.enter_context(SourceTree(root, ignore, what=what))
                if tree.has_ignore_rules:
                    rel = tree.resolve(source)
                    if rel is None:
                        raise not_found
                    return root / rel if rel else root, rel, tree.visible
            resolved = resolve_in_root(root, source)
        except OSError as exc:
            raise BuildError(
                f'RUN --mount={flag.raw}: cannot resolve "{shown}" in {what}: {exc.strerror or exc}'
            ) from None
        if resolved.missing:
            raise not_found
        rel = resolved.relative
        return (root / rel if rel else root), rel, None

    # -- one function per mount type

    def bind(self, flag: MountFlag, target: str) -> Mount:
        host, rel, visible = self.resolve(flag)
        if flag.readonly and visible is None and not self.insecure:
            return Mount(target, "bind", str(host), ("rbind", "ro"))
        # A copy to write on (discarded), or the context as sent (filtered, links).
        # An insecure step may remount read-only mounts writable: it gets copies.
        copy = self.private() / self.new_name("bind")
        links = flag.readonly and not self.insecure
        try:
            clone_tree(host, copy, hardlink=links, visible=visible, rel=rel)
        except OSError as exc:
            raise BuildError(
                f"RUN --mount={flag.raw}: cannot prepare the mount: {exc.strerror or exc}"
            ) from None
        return Mount(target, "bind", str(copy), ("rbind", "ro") if flag.readonly else ("rbind",))

    def cache_spec(self, flag: MountFlag) -> CacheSpec:
        if self.sources.cache_root is None:
            raise BuildError(
                "RUN --mount=type=cache needs a cache directory (MountSources.cache_root)"
            )
        seed: Callable[[], Path] | None = None
        seed_key = ""
        if flag.from_:
            from_ = flag.from_

            def seed() -> Path:  # only when the cache is made: a stage root costs a mount
                path, _, _ = self.resolve(flag)
                if not path.is_dir():
                    raise BuildError(
                        f"RUN --mount={flag.raw}: the cache's source must be a directory"
                    )
                return path

            identity = self.sources.stage_identity
            seed_key = json.dumps(
                [identity(from_) if identity else from_, rooted(flag.source or "/")]
            )
        return CacheSpec(
            flag.id or flag.target or "",
            seed=seed,
            seed_key=seed_key,
            uid=flag.uid,
            gid=flag.gid,
            mode=flag.mode,
        )

    def hold_cache(self, spec: CacheSpec, sharing: str) -> Path:
        # One directory per cache in a step, even when two mounts name it.
        if spec.key not in self.caches:
            assert self.sources.cache_root is not None  # checked by cache_spec
            held = hold_cache_dir(self.sources.cache_root, spec, sharing, cancel=self.cancel)
            self.caches[spec.key] = self.stack.enter_context(held)
        return self.caches[spec.key]

    def secret(self, flag: MountFlag) -> Mount | None:
        secret_id = id_of_secret(flag)
        if not secret_id:
            raise BuildError(
                f"RUN --mount={flag.raw}: the secret has no id",
                hint="name it: id=ID (or give a target, whose base name is the id)",
            )
        target = _target(flag, self.workdir) if flag.target else None
        if target is None and flag.env is None:
            target = f"{SECRETS_DIR}/{posixpath.basename(secret_id)}"
        source = self.sources.secrets.get(secret_id)
        if source is None:
            if flag.required:
                raise BuildError(
                    f'secret "{secret_id}" is required but was not given',
                    hint=f"pass it to the build: {SECRET_SYNTAX.replace('ID', secret_id)}",
                )
            return None
        data = read_secret(source, self.sources.environ)
        if flag.env is not None:
            self.env[flag.env] = _env_value(secret_id, flag.env, data)
        if target is None:
            return None
        path = self.secret_dir() / self.new_name("secret")
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchown(fd, flag.uid or 0, flag.gid or 0)
            os.fchmod(fd, 0o400 if flag.mode is None else flag.mode & 0o7777)
        finally:
            os.close(fd)
        return Mount(target, "bind", str(path), SECRET_OPTIONS)

    def ssh(self, flag: MountFlag, index: int) -> Mount | None:
        ssh_id = flag.id or "default"
        target = _target(flag, self.workdir) if flag.target else SSH_TARGET.format(index)
        paths = list(self.sources.ssh.get(ssh_id) or ())
        if not paths:
            if flag.required:
                raise BuildError(
                    f'ssh agent "{ssh_id}" is required but was not given',
                    hint=f"pass --ssh {ssh_id} (the agent of $SSH_AUTH_SOCK), "
                    f"--ssh {ssh_id}=/path/to/agent.sock or --ssh {ssh_id}=/path/to/key",
                )
            return None
        upstream = self.agent(ssh_id, paths)
        sock = self.socket_dir() / f"{index}.sock"
        mode = 0o600 if flag.mode is None else flag.mode & 0o7777
        self.stack.enter_context(
            forward_agent(upstream, sock, uid=flag.uid or 0, gid=flag.gid or 0, mode=mode)
        )
        if self.ssh_sock_env is None:
            self.ssh_sock_env = target
        return Mount(target, "bind", str(sock), ("rbind",))

    def agent(self, ssh_id: str, paths: list[Path]) -> Path:
        """The agent socket for `ssh_id`: the given socket, or an agent holding the keys."""
        if len(paths) == 1 and is_socket(paths[0]):
            return paths[0]
        if ssh_id not in self.agents:
            for path in paths:
                if not path.is_file():
                    raise BuildError(
                        f"--ssh {ssh_id}: {path} is neither an agent socket nor a key file"
                    )
            sock = self.socket_dir() / self.new_name("agent")
            held = key_agent(paths, sock, ssh_id)
            self.agents[ssh_id] = self.stack.enter_context(held)
        return self.agents[ssh_id]


def _env_value(secret_id: str, name: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"  # reported below, without the value
    if "\0" in text:
        raise BuildError(
            f"secret {secret_id} cannot be the environment variable {name}: "
            "it is not text (UTF-8 without NUL bytes)",
            hint="mount it as a file instead (leave out env=)",
        )
    return text


def _depth(mount: Mount) -> int:
    return len([p for p in mount.destination.split("/") if p])


def _close_despite_interrupts(stack: ExitStack) -> None:
    """Undo everything, to the end even when Ctrl-C arrives meanwhile (re-raised after)."""
    interrupted: KeyboardInterrupt | None = None
    while True:
        try:
            stack.close()
            break
        except KeyboardInterrupt as error:
            interrupted = error
    if interrupted is not None:
        raise interrupted


@contextmanager
def prepare_mounts(
    mounts: Sequence[MountFlag],
    sources: MountSources,
    *,
    work_dir: Path,
    workdir: str = "/",
    step_env: Sequence[str] = (),
    user: tuple[int, int] | None = None,
    secret_dir: Path | None = None,
    cancel: threading.Event | None = None,
    insecure: bool = False,
) -> Iterator[PreparedMounts]:
    """Prepare the step's `--mount`s; yield (OCI mounts, environment); undo all on exit.

    `work_dir` holds private copies (made if missing; on the same file system
    as the context, bind views are hard links); `workdir` is the step's
    working directory, for relative targets; `step_env` ("NAME=value") is the
    step's environment (SSH_AUTH_SOCK set there wins). `user` is the step's
    uid/gid: it changes nothing, as in BuildKit (owners default to 0:0).
    `secret_dir` is where secret files are made (default /dev/shm, else
    `work_dir`). `cancel` ends a wait for a locked cache (RunCancelledError).
    `insecure` (RUN --security=insecure, which can remount read-only mounts
    writable): read-only binds are private copies too, never the originals.

    Raises BuildError for a missing source or required secret/agent, before
    anything is held. Cache locks are taken in one global order, so steps
    that share caches cannot deadlock.
    """
    del user  # accepted for callers' convenience; BuildKit's defaults do not depend on it
    stack = ExitStack()
    try:
        prep = _Preparation(sources, stack, Path(work_dir), workdir, secret_dir, cancel, insecure)
        slots: list[Mount | None] = []  # in the order written; None: skipped or a cache
        caches: list[tuple[CacheSpec, str, MountFlag, str, int]] = []
        ssh_index = 0
        for flag in mounts:
            mount: Mount | None = None
            if flag.type == "bind":
                mount = prep.bind(flag, _target(flag, workdir))
            elif flag.type == "cache":
                target = _target(flag, workdir)
                sharing = flag.sharing or "shared"
                caches.append((prep.cache_spec(flag), sharing, flag, target, len(slots)))
            elif flag.type == "tmpfs":
                tmpfs = ["nosuid"] + (["ro"] if flag.readonly else [])
                if flag.size:
                    tmpfs.append(f"size={flag.size}")
                mount = Mount(_target(flag, workdir), "tmpfs", "tmpfs", tuple(tmpfs))
            elif flag.type == "secret":
                mount = prep.secret(flag)
            elif flag.type == "ssh":
                mount = prep.ssh(flag, ssh_index)
                ssh_index += 1
            else:
                raise BuildError(f"unsupported mount type {flag.type!r} in --mount={flag.raw}")
            slots.append(mount)
        # Locks in one global order: steps sharing caches cannot deadlock.
        for spec, sharing, flag, target, slot in sorted(caches, key=lambda c: c[0].dir_name):
            path = prep.hold_cache(spec, sharing)
            options = ("rbind", "ro") if flag.readonly else ("rbind",)
            slots[slot] = Mount(target, "bind", str(path), options)
        env = dict(prep.env)
        if prep.ssh_sock_env is not None and not _sets_ssh_auth_sock(step_env):
            env["SSH_AUTH_SOCK"] = prep.ssh_sock_env
        # Parents before children; otherwise as written (a later mount covers an earlier one).
        out = sorted((m for m in slots if m is not None), key=_depth)
        yield PreparedMounts(out, env)
    finally:
        _close_despite_interrupts(stack)
