"""Recorded license names as SPDX license expressions.

Package databases record licenses in their own words: Debian short names
(`GPL-2+`, `BSD-3-clause`, `Expat`), SPDX expressions (Alpine, npm, PEP 639),
or free text (rpm, old Python metadata). Known names become SPDX ids;
anything else becomes a `LicenseRef-` id, which the SPDX document then
declares in `hasExtractedLicensingInfos` with the recorded text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: SPDX ids common in images, by lower-case spelling (the SPDX list is matched case-insensitively)
_SPDX_IDS = {
    i.lower(): i
    for i in (
        "0BSD", "AFL-2.1", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0",
        "Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0", "BSD-1-Clause", "BSD-2-Clause",
        "BSD-3-Clause", "BSD-4-Clause", "BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0",
        "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "curl", "EPL-1.0", "EPL-2.0",
        "FSFAP", "FSFUL", "FSFULLR", "GFDL-1.2-or-later", "GFDL-1.3-or-later", "GPL-1.0-only",
        "GPL-1.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only",
        "GPL-3.0-or-later", "HPND", "ICU", "IJG", "ISC", "LGPL-2.0-only", "LGPL-2.0-or-later",
        "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "Libpng",
        "MIT", "MIT-0", "MPL-1.1", "MPL-2.0", "NCSA", "OFL-1.1", "OpenSSL", "PostgreSQL",
        "PSF-2.0", "Python-2.0", "Ruby", "Sleepycat", "Unicode-DFS-2016", "Unlicense", "Vim",
        "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
    )
}  # fmt: skip
#: Debian's short names (copyright-format 1.0) and other common spellings
_ALIASES = {
    "expat": "MIT",
    "mit license": "MIT",
    "apache": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "mit": "MIT",
    "zlib": "Zlib",
    "psf": "PSF-2.0",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "isc license (iscl)": "ISC",
    "artistic": "Artistic-1.0-Perl",
    "public-domain": "",
}
_GNU = re.compile(r"(a?gpl|lgpl|gfdl)-?(\d(?:\.\d)?)(\+)?(-only|-or-later)?", re.IGNORECASE)
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_OPERATORS = {"and": "AND", "or": "OR"}


@dataclass
class LicenseRefs:
    """The `LicenseRef-` ids made so far, and the text each stands for."""

    texts: dict[str, str] = field(default_factory=dict)

    def ref(self, text: str) -> str:
        ident = "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-") or "unknown")
        self.texts.setdefault(ident, text)
        return ident


def spdx_id(name: str) -> str | None:
    """The SPDX id of one license name, or None when it is not a known one."""
    lowered = name.strip().lower()
    if lowered in _SPDX_IDS:
        return _SPDX_IDS[lowered]
    if _ALIASES.get(lowered):
        return _ALIASES[lowered]
    gnu = _GNU.fullmatch(lowered)
    if gnu:
        family, version, plus, suffix = gnu.groups()
        version = version if "." in version else version + ".0"
        later = plus or suffix == "-or-later"
        candidate = f"{family.upper()}-{version}-{'or-later' if later else 'only'}"
        return _SPDX_IDS.get(candidate.lower())
    if lowered.startswith("bsd-") and lowered.endswith("-clause"):
        return _SPDX_IDS.get(lowered)
    return None


def expression(names: tuple[str, ...], refs: LicenseRefs) -> str:
    """One SPDX expression for all the names a package records (joined with AND)."""
    parts = [_one(name, refs) for name in names if name.strip()]
    if not parts:
        return "NOASSERTION"
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({p})" if " " in p else p for p in parts)


def _one(name: str, refs: LicenseRefs) -> str:
    """A name or an expression of names (`GPL-2+ or Artistic`, `MIT OR Apache-2.0`).

    Words between operators make one name (`Some License`); a `with` exception,
    or an expression that does not parse, becomes one LicenseRef as a whole.
    """
    out: list[str] = []
    words: list[str] = []

    def flush() -> None:
        if words:
            text = " ".join(words)
            out.append(spdx_id(text) or refs.ref(text))
            words.clear()

    for token in _TOKEN.findall(name):
        if token in ("(", ")") or token.lower() in ("and", "or"):
            flush()
            out.append(_OPERATORS.get(token.lower(), token))
        elif token.lower() == "with":
            return spdx_id(name) or refs.ref(name.strip())
        else:
            words.append(token)
    flush()
    if not out or out[0] in ("AND", "OR") or out[-1] in ("AND", "OR"):
        return refs.ref(name.strip())
    return " ".join(out).replace("( ", "(").replace(" )", ")")
