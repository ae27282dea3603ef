"""How long a registry transfer may take: connect, idle, throughput, document deadlines.

A socket read timeout alone bounds one `recv`: a server that sends one byte
just before it expires keeps a download alive forever. So every transfer is
also measured as it runs (`Meter`):

- **connect**: the TCP (and TLS) handshake;
- **idle**: no byte at all, while waiting for an answer or a body;
- **min_speed over speed_window**: a body that crawls (averaged over the
  last `speed_window` seconds) fails the attempt; a retry resumes it;
- **document**: a manifest, token or other small JSON document must arrive
  whole, answer included, within this time;
- **commit**: the answer to an upload's last request, which the registry
  only sends once it has verified and stored the blob.

A failed attempt raises `TransferTimeout` (its `reason` says what happened);
the retry loops turn the last one into a `RegistryTimeoutError`. Defaults
can be changed with `PYBUILD_REGISTRY_*` environment variables
(`Deadlines.from_env`), see docs/images.md.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields

from builder.errors import UsageError

#: Environment variable for each field of Deadlines.
ENV_VARS = {
    "connect": "PYBUILD_REGISTRY_CONNECT_TIMEOUT",
    "idle": "PYBUILD_REGISTRY_IDLE_TIMEOUT",
    "min_speed": "PYBUILD_REGISTRY_MIN_SPEED",
    "speed_window": "PYBUILD_REGISTRY_SPEED_WINDOW",
    "document": "PYBUILD_REGISTRY_DOCUMENT_TIMEOUT",
    "commit": "PYBUILD_REGISTRY_COMMIT_TIMEOUT",
}


class TransferTimeout(Exception):
    """One attempt of a transfer was too slow; `reason` is e.g. `no data for 30 s`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Deadlines:
    """Time limits of registry transfers, in seconds (min_speed in bytes per second)."""

    connect: float = 15.0
    idle: float = 30.0
    min_speed: float = 1024.0  #: 0 turns the throughput check off
    speed_window: float = 30.0
    document: float = 60.0
    commit: float = 120.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0 or (value == 0 and f.name != "min_speed"):
                raise ValueError(f"Deadlines.{f.name} must be positive, not {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Deadlines:
        """The defaults, with any `PYBUILD_REGISTRY_*` variable that is set."""
        defaults = cls()
        values = {}
        for name, var in ENV_VARS.items():
            speed = name == "min_speed"
            value = env_number(
                var,
                getattr(defaults, name),
                unit="bytes per second" if speed else "seconds",
                allow_zero=speed,
                environ=environ,
            )
            values[name] = value
        return cls(**values)


def env_number(
    var: str,
    default: float,
    *,
    unit: str,
    allow_zero: bool = False,
    integer: bool = False,
    environ: Mapping[str, str] | None = None,
) -> float:
    """The number in environment variable `var`, or `default` when unset or empty."""
    env = os.environ if environ is None else environ
    text = env.get(var, "").strip()
    if not text:
        return default
    try:
        value = float(int(text)) if integer else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "a whole" if integer else "a"
        raise UsageError(
            f"{var}={text!r}: expected {kind} {'' if allow_zero else 'positive '}number of {unit}",
            hint=f"unset {var} to use the default ({default:g})",
        )
    return value


def seconds(value: float) -> str:
    """`30 s`, `0.2 s`: a duration as messages show it."""
    return f"{value:g} s"


def rate(value: float) -> str:
    """`1 KiB/s`, `512 B/s`: a throughput as messages show it."""
    if value >= 1024:
        return f"{value / 1024:.3g} KiB/s"
    return f"{value:.0f} B/s" if value >= 1 else f"{value:.2g} B/s"


class Meter:
    """Watches one attempt of a transfer: idle time, throughput, and an optional deadline.

    Call `read_timeout()` before each blocking read (the socket timeout to
    use), `timed_out()` when that read timed out, and `received(n)` after
    it returned data.
    """

    def __init__(self, deadlines: Deadlines, *, deadline: float | None = None):
        self.deadlines = deadlines
        self.deadline = deadline  #: time.monotonic() by which everything must be in
        self._total = 0
        self._samples: deque[tuple[float, int]] = deque([(time.monotonic(), 0)])

    def read_timeout(self) -> float:
        """Seconds the next read may block; raises TransferTimeout past the deadline."""
        idle = self.deadlines.idle
        if self.deadline is None:
            return idle
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TransferTimeout(f"not received within {seconds(self.deadlines.document)}")
        return min(idle, left)

    def timed_out(self) -> TransferTimeout:
        """The failure for a read that timed out after `read_timeout()`."""
        if self.deadline is not None and self.deadline - time.monotonic() < self.deadlines.idle:
            return TransferTimeout(f"not received within {seconds(self.deadlines.document)}")
        return TransferTimeout(f"no data for {seconds(self.deadlines.idle)}")

    def received(self, size: int) -> None:
        """Count `size` new bytes; raises TransferTimeout if the window's average is too low."""
        now = time.monotonic()
        self._total += size
        minimum, window = self.deadlines.min_speed, self.deadlines.speed_window
        if minimum <= 0:
            return
        samples = self._samples
        if now - samples[-1][0] >= window / 64:  # a bounded number of samples per window
            samples.append((now, self._total))
        # keep exactly one sample at or before the start of the window
        while len(samples) > 1 and samples[1][0] <= now - window:
            samples.popleft()
        start, before = samples[0]
        if now - start < window:
            return
        speed = (self._total - before) / (now - start)
        if speed < minimum:
            raise TransferTimeout(f"under {rate(minimum)} for {seconds(window)} ({rate(speed)})")
