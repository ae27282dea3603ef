"""`--sbom`, `--provenance` and `--attest`, as buildx spells them.

- `--sbom=true|false` is `--attest type=sbom` (`disabled=true` for false);
- `--provenance=true|false|min|max|mode=min|max[,builder-id=...,reproducible=true]`
  is `--attest type=provenance,...`; the mode defaults to min;
- asking for an SBOM adds provenance (mode=min) too, unless
  `--provenance=false`, as buildx attaches provenance by default.

Scanner images (`generator=`) are refused: pybuild reads the package
databases itself. Only SLSA provenance v0.2 is written.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from builder.errors import UsageError

Mode = Literal["min", "max"]
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


@dataclass(frozen=True)
class AttestOptions:
    """Which attestations a build attaches to its image."""

    sbom: bool = False
    provenance: Mode | None = None  #: None: no provenance
    builder_id: str = ""  #: provenance `builder.id`
    reproducible: bool = False  #: provenance `metadata.reproducible`, as the user declares it

    @property
    def any(self) -> bool:
        return self.sbom or self.provenance is not None


def _bool(value: str, what: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise UsageError(f"{what}: {value!r} is not true or false")


def _fields(text: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in next(csv.reader([text])) if text else []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"{what}: {item!r} is not KEY=VALUE")
        out[key.strip().lower()] = value.strip()
    return out


def _shorthand(kind: str, value: str) -> str:
    """`--sbom VALUE` / `--provenance VALUE` as an `--attest` spec."""
    lowered = value.strip().lower()
    if lowered in _TRUE or lowered == "":
        return f"type={kind}"
    if lowered in _FALSE:
        return f"type={kind},disabled=true"
    if kind == "provenance" and lowered in ("min", "max"):
        return f"type=provenance,mode={lowered}"
    return f"type={kind},{value}"


def parse_attest_options(
    sbom: str | None = None, provenance: str | None = None, attest: Sequence[str] = ()
) -> AttestOptions:
    """The attestations asked for; UsageError naming the bad option."""
    specs = [*attest]
    if sbom is not None:
        specs.append(_shorthand("sbom", sbom))
    if provenance is not None:
        specs.append(_shorthand("provenance", provenance))
    want_sbom = False
    mode: Mode | None = None
    provenance_off = False
    builder_id, reproducible = "", False
    for spec in specs:
        what = f"--attest {spec!r}"
        fields = _fields(spec, what)
        kind = fields.pop("type", "")
        disabled = _bool(fields.pop("disabled", "false"), what)
        if kind == "sbom":
            if "generator" in fields:
                raise UsageError(
                    f"{what}: generator images are not supported",
                    hint="pybuild reads the image's package databases itself: drop generator=",
                )
            for key in ("scan-context", "scan-stage"):  # the build args say what to scan
                fields.pop(key, None)
            want_sbom = not disabled
        elif kind == "provenance":
            if disabled:
                provenance_off, mode = True, None
                continue
            provenance_off = False
            mode_text = fields.pop("mode", "min").lower()
            if mode_text not in ("min", "max"):
                raise UsageError(f"{what}: mode must be min or max")
            mode = "max" if mode_text == "max" else "min"
            version = fields.pop("version", "v0.2")
            if version != "v0.2":
                raise UsageError(f"{what}: only SLSA provenance version v0.2 is written")
            builder_id = fields.pop("builder-id", builder_id)
            reproducible = _bool(fields.pop("reproducible", "false"), what)
            fields.pop("inline-only", None)
            fields.pop("filename", None)
        else:
            raise UsageError(f"{what}: type must be sbom or provenance")
        if fields:
            raise UsageError(f"{what}: unknown key {next(iter(fields))!r}")
    if want_sbom and mode is None and not provenance_off:
        mode = "min"
    return AttestOptions(want_sbom, mode, builder_id, reproducible)
