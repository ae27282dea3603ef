"""Debian-style control paragraphs (`Key: value`, continuation lines indented)."""

from __future__ import annotations


def paragraphs(text: str) -> list[dict[str, str]]:
    """The paragraphs of a control file; a continued value keeps its lines joined by newlines."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
            current, key = {}, ""
        elif line[0] in " \t":
            if key:
                current[key] += "\n" + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            current[key] = value.strip()
    if current:
        found.append(current)
    return found
