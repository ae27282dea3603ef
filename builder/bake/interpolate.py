"""Compose's variable interpolation, and the `.env` file it reads variables from.

As the compose specification defines it: `$VAR` and `${VAR}`; `${VAR:-x}`
(x when VAR is unset or empty), `${VAR-x}` (when unset); `${VAR:?msg}` and
`${VAR?msg}` (an error); `${VAR:+x}` and `${VAR+x}` (x when set, and not
empty for `:+`); `$$` is a literal `$`. Defaults may hold interpolations
themselves. An unset variable without a default is the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from builder.errors import BakeFileError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    pass


def _braced_end(text: str, start: int) -> int:
    """The index of the `}` closing the `${` whose body starts at `start`."""
    depth, index = 1, start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InterpolationError(f"unterminated ${{ in {text!r}")


def _braced(body: str, env: Mapping[str, str]) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InterpolationError(f"invalid interpolation format for ${{{body}}}")
    name, rest = match.group(0), body[match.end() :]
    value = env.get(name)
    if not rest:
        return value if value is not None else ""
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg = rest[len(op) :]
            empty = value is None or (op.startswith(":") and value == "")
            if op in (":-", "-"):
                return interpolate(arg, env) if empty else str(value)
            if op in (":?", "?"):
                if empty:
                    raise InterpolationError(f"required variable {name} is missing a value: {arg}")
                return str(value)
            return "" if empty else interpolate(arg, env)
    raise InterpolationError(f"invalid interpolation format for ${{{body}}}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` with its variables replaced (InterpolationError for `${VAR?}` or bad syntax)."""
    if "$" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        if text.startswith("$$", index):
            out.append("$")
            index += 2
        elif text.startswith("${", index):
            end = _braced_end(text, index + 2)
            out.append(_braced(text[index + 2 : end], env))
            index = end + 1
        else:
            match = _NAME.match(text, index + 1)
            if match is None:
                out.append("$")
                index += 1
            else:
                out.append(env.get(match.group(0), ""))
                index = match.end()
    return "".join(out)


def interpolate_tree(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Every string of a YAML value, interpolated (keys are left as written)."""
    if isinstance(value, str):
        try:
            return interpolate(value, env)
        except InterpolationError as err:
            raise BakeFileError(f"{where}: {err}") from None
    if isinstance(value, list):
        return [interpolate_tree(v, env, where) for v in value]
    if isinstance(value, dict):
        return {k: interpolate_tree(v, env, where) for k, v in value.items()}
    return value


def read_dotenv(path: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The variables of a `.env` file (KEY=VALUE lines; quotes, comments, `export`)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError):
        return values
    except OSError as err:
        raise BakeFileError(f"cannot read {path}: {err.strerror}") from None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not _NAME.fullmatch(key):
            raise BakeFileError(f"{path}:{number}: invalid variable name {key!r}")
        if not eq:
            if key in env:
                values[key] = env[key]
            continue
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
                value = interpolate(value, {**env, **values})
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            value = interpolate(value, {**env, **values})
        values[key] = value
    return values


def compose_environment(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The variables a compose file sees: the environment, then `.env` in `cwd` (as buildx)."""
    env = dict(environ)
    for key, value in read_dotenv(cwd / ".env", env).items():
        env.setdefault(key, value)
    return env
