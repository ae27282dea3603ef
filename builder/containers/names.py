"""Docker-style generated container names: `adjective_surname`."""

from __future__ import annotations

import re
import secrets

ADJECTIVES = (
    "admiring", "bold", "brave", "clever", "dazzling", "eager", "elegant", "festive",
    "gallant", "happy", "jolly", "keen", "loving", "modest", "nifty", "optimistic",
    "peaceful", "quirky", "relaxed", "serene", "sharp", "tender", "upbeat", "vibrant",
    "wizardly", "youthful", "zealous",
)  # fmt: skip
SURNAMES = (
    "babbage", "bohr", "curie", "darwin", "euler", "fermat", "galois", "hopper", "hypatia",
    "kepler", "lamarr", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie",
    "shannon", "thompson", "turing", "volhard", "wozniak", "yalow",
)  # fmt: skip
#: docker's rule for --name
VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def generated_name(taken: set[str]) -> str:
    """A free `adjective_surname` (a digit appended when all tries were taken)."""
    for attempt in range(64):
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if attempt >= 16:
            name += str(secrets.randbelow(10))
        if name not in taken:
            return name
    return f"container_{secrets.token_hex(6)}"


def is_valid_name(name: str) -> bool:
    return VALID_NAME.fullmatch(name) is not None
