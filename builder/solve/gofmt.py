"""Go's `fmt` spellings that end up in image history (`created_by`).

BuildKit writes some history entries with Go's `%v`/`%q` verbs:
`EXPOSE map[80/tcp:{}]`, `VOLUME [/data]`, `CMD ["sh" "-c" "x"]`,
`HEALTHCHECK &{["CMD" "true"] "30s" ...}`. Tools compare these strings,
so they are reproduced here.
"""

from __future__ import annotations

from builder.dockerfile.text import go_quote


def go_list(items: list[str]) -> str:
    """`%v` of a []string: `[a b c]`."""
    return "[" + " ".join(items) + "]"


def go_quoted_list(items: list[str]) -> str:
    """`%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_set(keys: list[str]) -> str:
    """`%v` of a map[string]struct{}: `map[a:{} b:{}]`, keys sorted as Go prints them."""
    return "map[" + " ".join(f"{k}:{{}}" for k in sorted(keys)) + "]"


def go_duration(nanoseconds: int) -> str:
    """time.Duration.String(): `1h2m3s`, `1.5s`, `300ms`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000_000_000:  # below a second: the largest fitting unit with a fraction
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def go_rune(value: int) -> str:
    """`%q` of an integer: Go prints it as a quoted character (`'\\x02'`, `'A'`)."""
    if value == ord("'"):
        return "'\\''"
    if value == ord("\\"):
        return "'\\\\'"
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
    if value in named:
        return f"'{named[value]}'"
    if 0x20 <= value < 0x7F:
        return f"'{chr(value)}'"
    if value < 0x80:
        return f"'\\x{value:02x}'"
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return "'\\ufffd'"  # Go prints invalid runes as the replacement character
    char = chr(value)
    if char.isprintable():
        return f"'{char}'"
    return f"'\\u{value:04x}'" if value <= 0xFFFF else f"'\\U{value:08x}'"
