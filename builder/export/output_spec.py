"""`pybuild build -o/--output` and `--push`: where a build result goes, as buildx spells it.

An output is a CSV list `type=TYPE,key=value,...` (a field holding a comma
is quoted whole: `type=image,"name=a:1,b:1"`). Two shorthands, as buildx:
`-o DIR` is `type=local,dest=DIR` and `-o -` is `type=tar,dest=-`.

- `image`: the image in the local store, under its names; options `name=`
  (a comma list), `push=`, `registry.insecure=`, `oci-mediatypes=` (false:
  Docker schema 2 manifests and manifest list, as buildx writes them);
- `registry`: `image` with `push=true`;
- `docker`: a docker-archive for `docker load` (`dest=FILE`, or `-` for
  stdout); without `dest`, loaded into a Docker engine (and named in the
  local store), as buildx does: that is `--load`; `name=`, `tar=`;
- `oci`: an OCI archive (`dest=FILE`, default `-`), or with `tar=false` an
  OCI layout directory; `name=`, `tar=`, `oci-mediatypes=`;
- `tar`: the image's root filesystem as one tar (`dest=FILE`, default `-`);
- `local`: the image's root filesystem written into the directory `dest`;
- `cacheonly`: nothing is exported.

`rewrite-timestamp=` (image, docker, oci) is accepted: with SOURCE_DATE_EPOCH
pybuild always clamps layer mtimes, as BuildKit does with it set to true.
Options of buildx that pybuild does not implement (compression, annotations,
...) are accepted and ignored, each with a warning
(`OutputSpec.warnings`); an unknown type, a malformed field, a bad boolean or
a missing `dest` is a UsageError. Names from `-t` replace `name=` of image,
docker and oci outputs (buildx does the same).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from builder.errors import UsageError
from builder.image.reference import ReferenceError, parse_tag

__all__ = [
    "OUTPUT_TYPES",
    "OutputSpec",
    "check_destinations",
    "parse_output",
    "parse_outputs",
    "tag_names",
]

STDOUT: Final = "-"
OUTPUT_TYPES: Final = ("image", "registry", "docker", "oci", "tar", "local", "cacheonly")
_EXPECTED: Final = (
    "expected type=TYPE[,KEY=VALUE...] with TYPE one of image, registry, docker, oci, "
    "tar, local, cacheonly; or a directory (type=local); or - (a tar on stdout)"
)
#: Go's strconv.ParseBool spellings, which buildx and BuildKit accept.
_TRUE: Final = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "false", "FALSE", "False"})
#: Options each type implements; anything else is accepted, ignored and warned about.
#: `rewrite-timestamp=true` is what pybuild always does with SOURCE_DATE_EPOCH (the layer
#: writer clamps mtimes): accepted without a warning, and its value checked.
_KNOWN: Final = {
    "image": frozenset(
        {
            "name",
            "push",
            "registry.insecure",
            "push-by-digest",
            "oci-mediatypes",
            "rewrite-timestamp",
        }
    ),
    "docker": frozenset({"name", "dest", "tar", "rewrite-timestamp"}),
    "oci": frozenset({"name", "dest", "tar", "oci-mediatypes", "rewrite-timestamp"}),
    "tar": frozenset({"dest"}),
    "local": frozenset({"dest"}),
    "cacheonly": frozenset(),
}


@dataclass(frozen=True)
class OutputSpec:
    """One parsed `--output`. `registry` is kept as `image` with `push=True`."""

    type: str  #: image | docker | oci | tar | local | cacheonly
    dest: str | None = None  #: a path, "-" for stdout, None when not given (and not defaulted)
    names: tuple[str, ...] = ()  #: full normalized names (`docker.io/library/app:1`)
    push: bool = False
    tar: bool = True  #: docker/oci: a tar file; False: a directory
    insecure: bool = False  #: `registry.insecure=true`: plain HTTP / unverified TLS for the push
    ignored: tuple[str, ...] = ()  #: options given but not implemented
    #: `oci-mediatypes=false`: the image (and its index) in Docker schema 2 media types
    oci_mediatypes: bool = True
    text: str = ""  #: the value as given, for messages

    @property
    def to_stdout(self) -> bool:
        return self.dest == STDOUT

    @property
    def into_store(self) -> bool:
        """Whether the image lands in the local store (image, or docker without dest)."""
        return self.type == "image" or (self.type == "docker" and self.dest is None)

    @property
    def to_engine(self) -> bool:
        """Whether the image is loaded into a Docker engine (docker without dest: `--load`)."""
        return self.type == "docker" and self.dest is None

    @property
    def warnings(self) -> list[str]:
        return [
            f'output "{self.text}": option "{key}" is not supported by pybuild and is ignored'
            for key in self.ignored
        ]


def _fields(text: str) -> list[str]:
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as err:
        raise UsageError(f'invalid output "{text}": {err}', hint=_EXPECTED) from None
    return rows[0] if rows else []


def _bool(value: str, key: str, text: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f'invalid output "{text}": {key}={value!r} is not a boolean (true or false)')


def _names(value: str, text: str) -> tuple[str, ...]:
    names: list[str] = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            name = str(parse_tag(item))
        except ReferenceError as err:
            raise UsageError(f'invalid output "{text}": name {item!r}: {err}') from None
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_output(text: str) -> OutputSpec:
    """Parse one `-o/--output` value (see the module docstring)."""
    if not text:
        raise UsageError("invalid output: the value is empty", hint=_EXPECTED)
    fields = _fields(text)
    if len(fields) == 1 and fields[0] == text and not text.startswith("type="):
        if text == STDOUT:
            return OutputSpec("tar", dest=STDOUT, text=text)
        return OutputSpec("local", dest=text, text=text)
    kind = ""
    attrs: dict[str, str] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise UsageError(f'invalid output "{text}": {field!r} is not KEY=VALUE', hint=_EXPECTED)
        key = key.strip().lower()
        if key == "type":
            kind = value
        else:
            attrs[key] = value
    if not kind:
        raise UsageError(f'invalid output "{text}": type is required', hint=_EXPECTED)
    if kind not in OUTPUT_TYPES:
        raise UsageError(f'invalid output "{text}": unknown type "{kind}"', hint=_EXPECTED)
    return _spec(kind, attrs, text)


def _spec(kind: str, attrs: dict[str, str], text: str) -> OutputSpec:
    push = kind == "registry"
    if kind == "registry":
        kind = "image"
    known = _KNOWN[kind]
    ignored = tuple(sorted(k for k in attrs if k not in known))
    spec = OutputSpec(kind, text=text, ignored=ignored)
    if "rewrite-timestamp" in known and "rewrite-timestamp" in attrs:
        _bool(attrs["rewrite-timestamp"], "rewrite-timestamp", text)
    if "name" in attrs:
        spec = replace(spec, names=_names(attrs["name"], text))
    if "oci-mediatypes" in attrs and kind in ("image", "oci"):
        spec = replace(spec, oci_mediatypes=_bool(attrs["oci-mediatypes"], "oci-mediatypes", text))
    if kind == "image":
        if "push" in attrs:
            wanted = _bool(attrs["push"], "push", text)
            push = push or wanted  # type=registry always pushes, as in buildx
        if "push-by-digest" in attrs and _bool(attrs["push-by-digest"], "push-by-digest", text):
            raise UsageError(
                f'invalid output "{text}": push-by-digest is not supported',
                hint="push under a name (name=REGISTRY/REPOSITORY:TAG or -t)",
            )
        insecure = "registry.insecure" in attrs and _bool(
            attrs["registry.insecure"], "registry.insecure", text
        )
        return replace(spec, push=push, insecure=insecure)
    dest = attrs.get("dest")
    if dest == "":
        dest = None
    if kind in ("docker", "oci"):
        tar = _bool(attrs["tar"], "tar", text) if "tar" in attrs else True
        spec = replace(spec, tar=tar)
        if tar:
            if dest is None and kind == "oci":
                dest = STDOUT
            return replace(spec, dest=dest)
        kind_dir = "an OCI layout" if kind == "oci" else "a docker-archive"
        _require_dir_dest(text, dest, f"{kind_dir} directory (tar=false)")
        return replace(spec, dest=dest)
    if kind == "tar":
        return replace(spec, dest=dest or STDOUT)
    if kind == "local":
        _require_dir_dest(text, dest, "the local exporter")
        return replace(spec, dest=dest)
    return spec  # cacheonly


def _require_dir_dest(text: str, dest: str | None, what: str) -> None:
    if dest is None:
        raise UsageError(
            f'invalid output "{text}": dest is required for {what}',
            hint="add dest=DIRECTORY",
        )
    if dest == STDOUT:
        raise UsageError(
            f'invalid output "{text}": dest cannot be stdout for {what}',
            hint="give a directory, or use type=tar,dest=- for a tar on stdout",
        )


def parse_outputs(
    values: Sequence[str], *, push: bool, tags: Sequence[str], load: bool = False
) -> list[OutputSpec]:
    """All `-o` values with `--push`, `--load` and `-t`, checked together as buildx does.

    No output means `type=image`. `--push` pushes every image output, or adds
    one (buildx >= 0.13). `--load` adds `type=docker` (loaded into a Docker
    engine) unless one is there. `-t` names replace `name=`. Pushing needs a name;
    only one output may write to stdout; a file destination may not be a
    directory nor a directory destination a file (checked now, before the
    build, and again when exporting).
    """
    specs = [parse_output(value) for value in values if value != ""]
    if not specs and not load:  # `--load` alone: the docker output names it in the store too
        specs = [OutputSpec("image", text="type=image")]
    if tags:
        names = tag_names(tags)
        specs = [
            replace(s, names=names) if s.type in ("image", "docker", "oci") else s for s in specs
        ]
    if push:
        if any(s.type == "image" for s in specs):
            specs = [replace(s, push=True) if s.type == "image" else s for s in specs]
        else:
            names = tag_names(tags) if tags else ()
            specs.append(OutputSpec("image", names=names, push=True, text="type=registry"))
    if load and not any(s.to_engine for s in specs):
        names = tag_names(tags) if tags else ()
        specs.append(OutputSpec("docker", names=names, text="type=docker"))
    unique: list[OutputSpec] = []
    for spec in specs:
        if spec not in unique:
            unique.append(spec)
    for spec in unique:
        if spec.type == "image" and spec.push and not spec.names:
            raise UsageError(
                "tag is needed when pushing to registry",
                hint="name the image with -t REGISTRY/REPOSITORY:TAG (or name= in the output)",
            )
    if sum(1 for s in unique if s.to_stdout) > 1:
        raise UsageError("multiple outputs configured to write to stdout")
    check_destinations(unique)
    return unique


def tag_names(tags: Sequence[str]) -> tuple[str, ...]:
    """`-t` values as full normalized names, without repeats; UsageError for a bad one."""
    names: list[str] = []
    for tag in tags:
        try:
            name = str(parse_tag(tag))
        except ReferenceError as err:
            raise UsageError(f"invalid tag {tag!r}: {err}") from None
        if name not in names:
            names.append(name)
    return tuple(names)


def check_destinations(specs: Sequence[OutputSpec]) -> None:
    """UsageError when a destination has the wrong kind (a file for a directory, or back)."""
    for spec in specs:
        if spec.dest is None or spec.to_stdout:
            continue
        wants_dir = spec.type == "local" or (spec.type in ("docker", "oci") and not spec.tar)
        path = Path(spec.dest)
        if wants_dir and path.exists() and not path.is_dir():
            raise UsageError(f'output "{spec.text}": destination directory {path} is a file')
        if not wants_dir and path.is_dir():
            raise UsageError(f'output "{spec.text}": destination file {path} is a directory')
