"""Go's path helpers the ignore rules and COPY sources rely on."""

from __future__ import annotations


def go_clean(path: str) -> str:
    """Go's `path.Clean`: the shortest equivalent slash-separated path."""
    if path == "":
        return "."
    rooted = path[0] == "/"
    n = len(path)
    out: list[str] = ["/"] if rooted else []
    r = dotdot = 1 if rooted else 0
    while r < n:
        if path[r] == "/" or (path[r] == "." and (r + 1 == n or path[r + 1] == "/")):
            r += 1  # an empty or `.` element
        elif path[r] == "." and path[r + 1] == "." and (r + 2 == n or path[r + 2] == "/"):
            r += 2
            if len(out) > dotdot:
                w = len(out) - 1
                while w > dotdot and out[w] != "/":
                    w -= 1
                del out[w:]
            elif not rooted:
                if out:
                    out.append("/")
                out.extend("..")
                dotdot = len(out)
        else:
            if (rooted and len(out) != 1) or (not rooted and out):
                out.append("/")
            start = r
            while r < n and path[r] != "/":
                r += 1
            out.extend(path[start:r])
    return "".join(out) if out else "."


def contains_wildcards(name: str) -> bool:
    """BuildKit's test for a COPY source that needs wildcard expansion (`*`, `?`, `[`)."""
    i, n = 0, len(name)
    while i < n:
        ch = name[i]
        if ch == "\\":
            i += 1
        elif ch in "*?[":
            return True
        i += 1
    return False
