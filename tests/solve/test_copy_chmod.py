"""`--chmod` values: octal as BuildKit parses them, symbolic as BSD chmod(1) applies them."""

from __future__ import annotations

import pytest

from builder.errors import BuildError
from builder.solve.copy.chmod import parse_chmod
from builder.solve.copy.chown import resolve_chown


@pytest.mark.parametrize(
    ("text", "mode", "is_dir", "expected"),
    [
        ("755", 0o600, False, 0o755),
        ("0755", 0o600, True, 0o755),
        ("4755", 0o600, False, 0o4755),
        ("0", 0o777, False, 0),
        ("7777", 0, False, 0o7777),
        ("u+x", 0o644, False, 0o744),
        ("+x", 0o644, False, 0o755),
        ("a-w", 0o777, False, 0o555),
        ("go-w", 0o777, False, 0o755),
        ("u=rwx,go=rx", 0o600, False, 0o755),
        ("go=", 0o777, False, 0o700),
        ("go=u-w", 0o750, False, 0o755),
        ("o=g", 0o750, False, 0o755),
        ("+X", 0o644, False, 0o644),
        ("+X", 0o644, True, 0o755),
        ("+X", 0o744, False, 0o755),
        ("=rw,+X", 0o755, False, 0o777),  # X looks at the mode before the change
        ("=rw,+X", 0o644, False, 0o666),
        ("u+s", 0o755, False, 0o4755),
        ("g+s", 0o755, True, 0o2755),
        ("o+s", 0o755, False, 0o755),
        ("+t", 0o755, True, 0o1755),
        ("o+t", 0o755, True, 0o755),  # BSD: sticky means nothing for "other" alone
        ("a=", 0o4777, False, 0),
        ("u-s", 0o4755, False, 0o755),
        ("ug+rw,o-rwx", 0o404, False, 0o660),
    ],
)
def test_apply(text: str, mode: int, is_dir: bool, expected: int) -> None:
    assert parse_chmod(text).apply(mode, is_dir=is_dir) == expected


@pytest.mark.parametrize("text", ["8", "99", "07778", "10000", "1e3"])
def test_numeric_looking_values_get_the_octal_message(text: str) -> None:
    with pytest.raises(BuildError, match="it should be octal string and between 0 and 07777"):
        parse_chmod(text)


@pytest.mark.parametrize("text", ["", "u", "ux", "u+q", "z+x", "u+x,", "+uw", "rwx", "-1"])
def test_bad_symbolic_values(text: str) -> None:
    with pytest.raises(BuildError, match="invalid chmod parameter"):
        parse_chmod(text)


def test_resolve_chown_rejects_bad_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="group after ':' is empty"):
        resolve_chown(tmp_path, "1000:")
    with pytest.raises(BuildError, match="in range"):
        resolve_chown(tmp_path, "99999999999")
    assert resolve_chown(tmp_path, "0:0") == (0, 0)
