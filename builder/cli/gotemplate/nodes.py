"""The syntax tree of a parsed template."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Field:
    """`.A.B` (chain on dot) or `X.A.B` (chain on a variable or parenthesised pipe)."""

    receiver: Any  #: None for dot, else a Variable or Pipeline node
    names: list[str]


@dataclass
class Dot:
    pass


@dataclass
class Variable:
    name: str  #: `$` or `$x`
    fields: list[str] = field(default_factory=list)


@dataclass
class Identifier:
    name: str  #: a function name


@dataclass
class Literal:
    value: Any  #: str, int, float, bool or None (nil)


@dataclass
class Command:
    args: list[Any]


@dataclass
class Pipeline:
    decl: list[str]  #: variables declared (`$x :=`) or assigned
    commands: list[Command]
    is_assign: bool = False
    pos: int = 0


@dataclass
class Text:
    text: str


@dataclass
class Action:
    pipe: Pipeline


@dataclass
class List:
    nodes: list[Any] = field(default_factory=list)


@dataclass
class Branch:
    """`if`, `with` or `range`: a pipeline, a body and an optional else."""

    keyword: str
    pipe: Pipeline
    body: List
    otherwise: List | None = None
