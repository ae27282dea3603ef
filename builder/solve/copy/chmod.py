"""`COPY --chmod` / `ADD --chmod`: an octal or a symbolic mode, as BuildKit reads it.

BuildKit first tries the value as an octal number (`755`, `0755`, `4755`):
it replaces the permission bits, setuid, setgid and sticky of everything
copied. Anything that is not octal is a symbolic mode in the syntax of BSD
chmod(1) (BuildKit uses a Go port of BSD `setmode` with a umask of 0):

- clauses separated by `,`; each is `[ugoa]*` then one or more actions;
- an action is `+`, `-` or `=` followed by `[rwxXst]*` or by one of `u`, `g`,
  `o` (copy that class's current bits): `u+x`, `go-w`, `a=rX`, `go=u-w`;
- no class letter means all classes (`+x` is `a+x`); `X` is execute only
  for directories and for files that already have an execute bit; `s` is
  setuid with `u` and setgid with `g`; `t` is the sticky bit, except with `o`
  alone; `X` looks at the mode before the change (`=rw,+X` keeps execute bits).

The mode applies to files and directories alike (never to symlinks), as in
BuildKit's copier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from builder.errors import BuildError

__all__ = ["ChmodSpec", "parse_chmod"]

_CLASS_BITS: Final = {"u": 0o4700, "g": 0o2070, "o": 0o0007}  # with setuid / setgid
_ALL_CLASSES: Final = 0o6777
_STICKY: Final = 0o1000
_PERM_BITS: Final = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": _STICKY}
_COPY_SHIFT: Final = {"u": 6, "g": 3, "o": 0}
_MAX_OCTAL: Final = 0o7777


@dataclass(frozen=True)
class _Action:
    op: str  #: "+", "-" or "="
    perms: str  #: letters from rwxXst, or a single u/g/o to copy that class


@dataclass(frozen=True)
class _Clause:
    who: str  #: letters from ugoa; "" means every class
    actions: tuple[_Action, ...]


@dataclass(frozen=True)
class ChmodSpec:
    """A parsed `--chmod` value; `apply` gives the new mode of one file or directory."""

    text: str
    octal: int | None  #: the absolute mode, when the value was octal
    clauses: tuple[_Clause, ...] = ()

    def apply(self, mode: int, *, is_dir: bool) -> int:
        """The new permission bits (0-0o7777) of an entry whose bits are `mode`."""
        if self.octal is not None:
            return self.octal
        original = current = mode & _MAX_OCTAL
        for clause in self.clauses:
            for action in clause.actions:
                current = _apply_action(current, original, clause.who, action, is_dir)
        return current


def parse_chmod(text: str) -> ChmodSpec:
    """Parse a `--chmod` value. Raises BuildError with BuildKit's wording when it is invalid."""
    if text and all(c in "01234567" for c in text):
        value = int(text, 8)
        if value > _MAX_OCTAL:
            raise _not_octal(text)
        return ChmodSpec(text, value)
    if text[:1].isdigit():
        raise _not_octal(text)  # looks numeric: BuildKit keeps the octal wording
    clauses = tuple(_parse_clause(text, part) for part in text.split(","))
    return ChmodSpec(text, None, clauses)


def _not_octal(text: str) -> BuildError:
    return BuildError(
        f"invalid chmod parameter: '{text}'. it should be octal string and between 0 and 07777"
    )


def _bad_symbolic(text: str, why: str) -> BuildError:
    return BuildError(
        f"invalid chmod parameter: '{text}': {why}",
        hint="use an octal mode (0755) or a symbolic one (u+x, go-w, u=rwx,go=rx)",
    )


def _parse_clause(text: str, part: str) -> _Clause:
    i = 0
    while i < len(part) and part[i] in "ugoa":
        i += 1
    who = part[:i]
    if i == len(part):
        raise _bad_symbolic(text, f"'{part}' has no +, - or = action")
    actions: list[_Action] = []
    while i < len(part):
        op = part[i]
        if op not in "+-=":
            raise _bad_symbolic(text, f"unexpected {op!r} in '{part}'")
        i += 1
        start = i
        if i < len(part) and part[i] in "ugo":
            i += 1  # copy another class's bits: exactly one letter
        else:
            while i < len(part) and part[i] in "rwxXst":
                i += 1
        actions.append(_Action(op, part[start:i]))
    return _Clause(who, tuple(actions))


def _who_mask(who: str) -> int:
    """The bits a clause may change: those `=` clears, and the sticky bit."""
    if who.strip("o"):  # BSD: "t" means nothing for "other" alone
        return _clear_mask(who) | _STICKY
    return _clear_mask(who)


def _perm_value(perms: str, current: int, original: int, is_dir: bool) -> int:
    if perms in _COPY_SHIFT:  # copies the bits as they are now (BSD `getmode`)
        bits = (current >> _COPY_SHIFT[perms]) & 0o7
        return bits * 0o111
    value = 0
    for letter in perms:
        if letter == "X":  # looks at the mode before any change (BSD `getmode`)
            if is_dir or original & 0o111:
                value |= 0o111
        else:
            value |= _PERM_BITS[letter]
    return value


def _clear_mask(who: str) -> int:
    """What `=` clears first: the classes named (with setuid/setgid), all bits for `a`."""
    if not who or "a" in who:
        return _ALL_CLASSES | _STICKY
    mask = 0
    for letter in who:
        mask |= _CLASS_BITS[letter]
    return mask


def _apply_action(current: int, original: int, who: str, action: _Action, is_dir: bool) -> int:
    value = _perm_value(action.perms, current, original, is_dir) & _who_mask(who)
    if action.op == "+":
        return current | value
    if action.op == "-":
        return current & ~value
    return (current & ~_clear_mask(who)) | value
