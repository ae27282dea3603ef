"""`pybuild build` of an image that is already built, answered before the CLI loads.

A fully cached rebuild is mostly start-up: typer, lark's tables, the model and
the executor. This module decides, with the standard library only, whether
the build asked for is one the store has already made, from unchanged inputs:

- the command line is a `build` with only the options listed in `_VALUE_OPTIONS`
  and `_FLAG_OPTIONS`, of a local context directory (anything else: the
  full build);
- the *request key*, a digest of everything the build can see (the
  Dockerfile's bytes, both candidate ignore files, the options after the
  CLI's own normalisation, the environment variables a build reads, the
  code of pybuild itself), names a record in `<store>/cache/fastpath/`;
- the record's witnesses still hold: the `stat` of the Dockerfile, the
  ignore files, the context directory and every entry of the context walk
  the build hashed (size, mode, owner, inode, mtime and ctime: ctime moves
  on every change and cannot be set back), each base image name still
  names the manifest it resolved to, the image is in the index with its
  blobs, and every `-t` name points at it.

Then it prints what a cached build prints (the same `--progress` lines, the
same `writing image`/`naming to` lines or the ID for `-q`), writes
`--iidfile`, and the process exits. On any doubt it falls through to the
full build, which writes the record (`fastpath_record.save_record`) when the
build can be replayed: every step keyed, no download, no secret or ssh
mount, no `.dockerignore` exceptions, nothing changed within the racy window.

No dataclasses or typing here: those imports alone cost more than the check.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import sys

from builder import __version__

FORMAT = 2  #: bump when what a record means changes
RACY_WINDOW_NS = 100_000_000  #: as the stat cache: a stat this close to a read proves nothing
MODES = ("auto", "plain", "tty", "rawjson", "quiet")
_VALUE_OPTIONS = {
    "-t": "tag",
    "--tag": "tag",
    "-f": "file",
    "--file": "file",
    "--build-arg": "build_arg",
    "--target": "target",
    "--platform": "platform",
    "--label": "label",
    "--progress": "progress",
    "--iidfile": "iidfile",
}
_FLAG_OPTIONS = {"-q": "quiet", "--quiet": "quiet"}
_REPEATABLE = frozenset({"tag", "build_arg", "label"})
#: environment variables a build may read (besides bare `--build-arg NAME`s, resolved below)
_ENV_PREFIXES = ("BUILDKIT_", "BUILDX_", "DOCKER_", "PYBUILD_")
_ENV_NAMES = frozenset(
    {"SOURCE_DATE_EPOCH", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}
)
#: modules whose change may change what a build makes: their stat is part of the key
_CODE = (
    "__init__.py",
    "api.py",
    "cli/main.py",
    "cli/fastpath.py",
    "cli/fastpath_record.py",
    "solve/executor.py",
    "solve/stages.py",
    "solve/cache/inputs.py",
    "solve/cache/keys.py",
    "plan/graph.py",
    "plan/steps.py",
    "context/walk.py",
    "context/hashing.py",
)
IGNORE_FILE = ".dockerignore"


def store_root(environ: dict[str, str] | os._Environ[str]) -> str:
    """The default store, as `builder.store.paths.default_root` finds it."""
    env = environ.get("PYBUILD_ROOT")
    if env:
        return os.path.abspath(env)
    if os.geteuid() == 0:
        return "/var/lib/pybuild"
    data_home = environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(os.path.abspath(data_home), "pybuild")


def witness(path: str, follow: bool = True) -> list[int] | None:
    """What a later `stat` must find for `path` to be unchanged (None: it does not exist)."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return None
    return [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            st.st_ino, st.st_dev]  # fmt: skip


STAT = struct.Struct("<QQQQqqQQ")  #: mode, uid, gid, size, mtime_ns, ctime_ns, inode, dev


def context_stats(root: str, relpaths: list[str]) -> str | None:
    """A digest of the `lstat` of each path below `root` (None when one is gone).

    One digest rather than a record per file: decoding 20,000 records cost
    more than the `lstat` calls themselves.
    """
    digest = hashlib.sha256()
    update, pack, lstat = digest.update, STAT.pack, os.lstat
    base = root + "/"
    try:
        for relpath in relpaths:
            st = lstat(base + relpath)
            update(pack(st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                        st.st_ctime_ns, st.st_ino, st.st_dev))  # fmt: skip
    except FileNotFoundError:
        return None
    return digest.hexdigest()


class Request:
    """A `pybuild build` command line the fast path understands, with its inputs read."""

    def __init__(self, context: str, options: dict[str, list[str]], quiet: bool) -> None:
        self.context = os.path.abspath(context)
        self.options = options
        self.quiet = quiet
        self.progress = self.one("progress") or "auto"
        self.iidfile = self.one("iidfile")
        name = self.one("file")
        if name is None:
            dockerfile = os.path.join(context, "Dockerfile")
            containerfile = os.path.join(context, "Containerfile")
            if not os.path.exists(dockerfile) and os.path.isfile(containerfile):
                dockerfile = containerfile
            name = dockerfile
        self.shown = name
        self.dockerfile = os.path.abspath(name)
        self.ignore_files = [os.path.join(self.context, IGNORE_FILE)]
        specific = self.dockerfile + IGNORE_FILE  # `<Dockerfile>.dockerignore` wins (BuildKit)
        self.ignore_files.insert(0, specific)

    def one(self, name: str) -> str | None:
        values = self.options.get(name)
        return values[-1] if values else None

    def witnesses(self) -> dict[str, list[int] | None]:
        """The stat of every file the key reads, and of the context directory."""
        paths = [self.dockerfile, *self.ignore_files, self.context]
        return {path: witness(path) for path in paths}

    def key(self, environ: dict[str, str] | os._Environ[str]) -> str | None:
        """The request key: a digest of everything besides the context's files."""
        try:
            with open(self.dockerfile, "rb") as f:
                dockerfile = f.read()
        except OSError:
            return None
        ignores: list[str | None] = []
        for path in self.ignore_files:
            try:
                with open(path, "rb") as f:
                    ignores.append(hashlib.sha256(f.read()).hexdigest())
            except FileNotFoundError:
                ignores.append(None)
            except OSError:
                return None
        build_args: dict[str, str] = {}
        for item in self.options.get("build_arg", []):  # as the CLI's `_build_args`
            name, eq, value = item.partition("=")
            if not name:
                return None
            if eq:
                build_args[name] = value
            elif name in environ:
                build_args[name] = environ[name]
        labels: dict[str, str] = {}
        for item in self.options.get("label", []):
            name, _, value = item.partition("=")
            if not name:
                return None
            labels[name] = value
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = [witness(os.path.join(package, name)) for name in _CODE]
        env = {
            name: value
            for name, value in environ.items()
            if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES or name.lower() in _ENV_NAMES
        }
        document = {
            "format": FORMAT,
            "version": __version__,
            "code": code,
            "euid": os.geteuid(),
            "context": self.context,
            "dockerfile": self.dockerfile,
            "shown": self.shown,
            "dockerfile_sha256": hashlib.sha256(dockerfile).hexdigest(),
            "ignore_files": ignores,
            "tags": self.options.get("tag", []),
            "build_args": build_args,
            "target": self.one("target"),
            "platform": self.one("platform"),
            "labels": labels,
            "env": env,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_argv(argv: list[str]) -> Request | None:
    """The build `argv` asks for, if it uses only the options this module knows."""
    if not argv or argv[0] != "build":
        return None
    options: dict[str, list[str]] = {}
    positional: list[str] = []
    quiet = False
    args = iter(argv[1:])
    for arg in args:
        if arg in _FLAG_OPTIONS:
            quiet = True
            continue
        if arg.startswith("--") and "=" in arg:
            option, _, value = arg.partition("=")
        elif arg in _VALUE_OPTIONS:
            option, value = arg, next(args, "-")
        elif arg.startswith("-"):  # another option, `--`, `-` (stdin) or `-tNAME`
            return None
        else:
            positional.append(arg)
            continue
        name = _VALUE_OPTIONS.get(option)
        if name is None or value.startswith("-"):
            return None
        if name not in _REPEATABLE and name in options:
            return None
        options.setdefault(name, []).append(value)
    if len(positional) != 1:
        return None
    context = positional[0]
    if "://" in context or "@" in context or not os.path.isdir(context):
        return None  # a remote context, or an error the full build reports
    platform = options.get("platform", [""])[0]
    if "," in platform or options.get("progress", ["auto"])[0] not in MODES:
        return None
    return Request(context, options, quiet)


class Pending:
    """A fast-path miss: what the full build needs to write the record afterwards."""

    def __init__(
        self,
        request: Request,
        root: str,
        key: str,
        witnesses: dict[str, list[int] | None],
        started_ns: int,
    ) -> None:
        self.request = request
        self.root = root
        self.key = key
        self.witnesses = witnesses  #: taken before the build read anything
        self.started_ns = started_ns

    @property
    def path(self) -> str:
        return record_path(self.root, self.key)


def record_path(root: str, key: str) -> str:
    return os.path.join(root, "cache", "fastpath", key + ".json")


def try_cached(
    argv: list[str], environ: dict[str, str] | os._Environ[str] | None = None
) -> tuple[bool, Pending | None]:
    """Serve `argv` from its record: (True, None) when done, else (False, what to record).

    Any surprise (an unreadable file, a record of another shape) is a miss:
    the full build is always right, this is only faster.
    """
    import time

    env = os.environ if environ is None else environ
    try:
        request = parse_argv(argv)
        if request is None:
            return False, None
        started = time.time_ns()
        witnesses = request.witnesses()
        key = request.key(env)
        if key is None:
            return False, None
        root = store_root(env)
    except Exception:
        return False, None
    pending = Pending(request, root, key, witnesses, started)
    try:
        with open(pending.path, "rb") as f:
            record = json.loads(f.read())
        if not _holds(record, request, witnesses, root):
            return False, pending
    except Exception:
        return False, pending
    if _serve(record, request):
        return True, None
    return False, pending


def _holds(
    record: dict, request: Request, witnesses: dict[str, list[int] | None], root: str
) -> bool:
    """Whether every input the record was made from is what it was."""
    if record.get("format") != FORMAT or record["witnesses"] != witnesses:
        return False
    if request.iidfile is not None and not os.path.isdir(
        os.path.dirname(os.path.abspath(request.iidfile))
    ):
        return False  # the full build reports it
    if context_stats(request.context, record["context"]) != record["context_stats"]:
        return False
    with open(os.path.join(root, "index.json"), "rb") as f:
        index = json.loads(f.read())
    if index.get("version") not in (1, 2):
        return False
    by_name: dict[str, dict] = {}
    for entry in index.get("indexes", []):  # multi-platform names: never an image's manifest
        for name in entry["names"]:
            by_name[name] = entry
    image: dict | None = None
    for entry in index["images"]:
        for name in entry["names"]:
            by_name[name] = entry
        if entry["config"] == record["image"]:
            image = entry
    if image is None or image["manifest"] != record["manifest"]:
        return False
    layers: list[str] = image["layers"]
    for name in record["names"]:
        if by_name.get(name) is not image:
            return False
    for name, manifest in record["bases"]:
        if by_name.get(name, {}).get("manifest") != manifest:
            return False
    for digest in (image["manifest"], image["config"], *layers):
        algorithm, _, hex_digest = digest.partition(":")
        if not stat.S_ISREG(os.stat(os.path.join(root, "blobs", algorithm, hex_digest)).st_mode):
            return False
    return True


def _serve(record: dict, request: Request) -> bool:
    """Print what the cached build prints, write `--iidfile`; False if that failed."""
    image_id = record["image"]
    if request.iidfile is not None:
        try:
            with open(request.iidfile, "w") as f:
                f.write(image_id)
        except OSError:
            return False  # the full build says why
    quiet = request.quiet or request.progress == "quiet"
    if quiet:
        sys.stdout.write(image_id + "\n")
        sys.stdout.flush()
        return True
    mode = request.progress
    if mode == "auto":
        in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
        tty = sys.stderr.isatty() and not in_ci and os.environ.get("TERM") != "dumb"
        mode = "tty" if tty else "plain"
    steps = record["steps"]
    if mode == "plain":  # `PlainProgress`'s lines, without loading it
        out = []
        for vertex, name, cached in steps:
            out.append(f"#{vertex} {name}\n")
            out.append(f"#{vertex} CACHED\n\n" if cached else f"#{vertex} DONE 0.0s\n\n")
        sys.stderr.write("".join(out))
    else:
        from builder.solve.progress import BuildStarted, StepDone, StepStarted, make_reporter

        with make_reporter(mode, sys.stderr) as report:
            report(BuildStarted(len(steps)))
            for vertex, name, cached in steps:
                report(StepStarted(vertex, name))
                report(StepDone(vertex, 0.0, cached=cached))
    exported = record["exported"]
    lines = []
    if not any(line.startswith("writing image") for line in exported):
        lines.append(f"writing image {image_id} done\n")
    lines.extend(f"{line} done\n" for line in exported)
    sys.stderr.write("".join(lines))
    sys.stderr.flush()
    return True
