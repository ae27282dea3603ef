"""The import graph of `builder/`: no cycles, and the layers import downwards only.

Every `import` and `from ... import` of a `builder.*` module counts, wherever
it stands: at module level, inside a function, or under `if TYPE_CHECKING:`.
Relative imports are resolved; `from builder.x import y` imports the module
`builder.x.y` when there is one, else `builder.x`.

Package `__init__` modules are modules like any other, with two rules:
- importing `builder.x.y` runs `builder/x/__init__.py` first, but that implicit
  step is no edge: only imports written in the code are;
- for cycles, an import of an `__init__` that holds nothing but a docstring
  is no edge either: there is nothing in it to depend on.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO

PACKAGE = "builder"
ROOT = REPO / PACKAGE

#: What each package of builder/ may import besides itself. Data flows one way
#: (parse → plan → solve → snapshot → store) and no package imports one above it;
#: `builder` itself is the package's lazy front door (`builder.build`, `builder.lint`).
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "image": frozenset({"errors"}),
    "dockerfile": frozenset({"errors"}),
    "runtime": frozenset({"errors"}),
    "snapshot": frozenset({"errors", "image"}),
    "store": frozenset({"errors", "image", "snapshot"}),
    # attestations (SBOM, provenance): read layers from the store, below push and the exports
    "attest": frozenset({"errors", "image", "snapshot", "store"}),
    "registry": frozenset({"errors", "image", "store", "attest"}),
    "export": frozenset({"errors", "image", "snapshot", "store", "registry", "attest"}),
    "containers": frozenset({"errors", "image", "runtime", "snapshot", "store"}),
    "context": frozenset({"errors", "dockerfile"}),
    "plan": frozenset({"errors", "dockerfile", "image"}),
    "solve": frozenset(
        {
            "errors",
            "dockerfile",
            "plan",
            "context",
            "image",
            "runtime",
            "snapshot",
            "store",
            "registry",
            "export",
            "attest",
        }
    ),
    # lint runs the planner to report what a build refuses (builder/lint/validation.py)
    "lint": frozenset({"errors", "dockerfile", "plan", "context", "image", "store", "builder"}),
    "api": frozenset(
        {
            "errors",
            "dockerfile",
            "plan",
            "context",
            "image",
            "snapshot",
            "store",
            "registry",
            "export",
            "solve",
            "lint",
            "attest",
        }
    ),
    # bake drives the build API: one builder.build per target, its progress events shared
    "bake": frozenset({"errors", "image", "api", "solve", "store"}),
    "builder": frozenset({"dockerfile", "plan", "api", "lint"}),
}
CLI = "builder.cli"


@dataclass
class Graph:
    """Modules of `builder/` and the `builder.*` modules each one imports."""

    files: dict[str, Path] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)


def module_name(path: Path, top: Path) -> str:
    """The dotted name of the module in `path`, `top` being the directory of the package."""
    parts = list(path.relative_to(top).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(graph: Graph, module: str) -> bool:
    return graph.files[module].name == "__init__.py"


def within(module: str, prefix: str) -> bool:
    """Whether `module` is `prefix` or lies inside the package `prefix`."""
    return module == prefix or module.startswith(prefix + ".")


def _known(graph: Graph, dotted: str) -> str | None:
    """The longest prefix of `dotted` that is a module of `builder/`."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in graph.files:
            return name
        parts.pop()
    return None


def _base(graph: Graph, module: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names, relative ones resolved."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package(graph, module) else module.split(".")[:-1]
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def imports_of(graph: Graph, module: str, tree: ast.AST) -> Iterator[str]:
    """Every `builder.*` module that `module` imports, anywhere in its code."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if within(alias.name, PACKAGE) and (target := _known(graph, alias.name)):
                    yield target
        elif isinstance(node, ast.ImportFrom):
            base = _base(graph, module, node)
            if not within(base, PACKAGE):
                continue
            for alias in node.names:
                target = _known(graph, f"{base}.{alias.name}")
                if target != f"{base}.{alias.name}":
                    target = _known(graph, base)
                if target is not None:
                    yield target


def build_graph(root: Path = ROOT) -> Graph:
    graph = Graph()
    for path in sorted(root.rglob("*.py")):
        graph.files[module_name(path, root.parent)] = path
    for module, path in graph.files.items():
        tree = ast.parse(path.read_bytes(), filename=str(path))
        graph.imports[module] = set(imports_of(graph, module, tree))
    return graph


def docstring_only(path: Path) -> bool:
    """Whether a module holds nothing but (at most) a docstring."""
    body = ast.parse(path.read_bytes()).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return not body


def dependency_edges(graph: Graph) -> dict[str, set[str]]:
    """The edges that matter for cycles: no self-imports, none into empty `__init__`s."""
    empty = {m for m in graph.files if is_package(graph, m) and docstring_only(graph.files[m])}
    return {
        module: {t for t in targets if t != module and t not in empty}
        for module, targets in graph.imports.items()
    }


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _shortest_path(
    edges: dict[str, set[str]], start: str, goal: str, inside: set[str]
) -> list[str]:
    """The shortest path start -> ... -> goal through modules of `inside` (BFS)."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for nxt in sorted(edges.get(node, ())):
            if nxt in inside and nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    path: list[str] = []
    step: str | None = goal
    while step is not None:
        path.append(step)
        step = came_from[step]
    return path[::-1]


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    """A cycle (without its repeated first module) rotated to start at its least module."""
    start = cycle.index(min(cycle))
    return tuple(cycle[start:] + cycle[:start])


def cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Cycles that together cover every edge inside every strongly connected component:
    for each such edge a -> b, the edge and the shortest way back from b to a."""
    found: set[tuple[str, ...]] = set()
    for component in strongly_connected(edges):
        inside = set(component)
        for a in component:
            for b in sorted(edges[a] & inside):
                back = _shortest_path(edges, b, a, inside)
                found.add(_canonical([a, *back[:-1]]))
    return sorted(found)


def chain(cycle: Iterable[str]) -> str:
    names = list(cycle)
    return " -> ".join([*names, names[0]])


GRAPH = build_graph()


def test_the_graph_sees_every_kind_of_import() -> None:
    assert len(GRAPH.files) > 50
    assert "builder.lint.engine" in GRAPH.imports["builder.lint"]
    assert "builder" in GRAPH.files
    assert any(GRAPH.imports.values())


def test_no_import_cycles() -> None:
    found = cycles(dependency_edges(GRAPH))
    assert not found, "import cycles in builder/:\n" + "\n".join(chain(c) for c in found)


def _package_of(module: str) -> str:
    """`builder.solve.copy.files` -> `solve`; `builder` itself -> `builder`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_package_imports_one_above_it() -> None:
    wrong = []
    for module, targets in sorted(GRAPH.imports.items()):
        package = _package_of(module)
        if package == "cli":
            continue  # the top: it may use everything
        assert package in ALLOWED, f"{module}: a new package; say in ALLOWED what it may import"
        for target in sorted(targets):
            used = _package_of(target)
            if used != package and used not in ALLOWED[package]:
                wrong.append(f"{module} imports {target} ({package} may not use {used})")
    assert not wrong, "\n".join(wrong)


def test_only_the_cli_imports_the_cli() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.imports.items())
        if not within(module, CLI)
        for target in sorted(targets)
        if within(target, CLI)
    ]
    assert not wrong, "\n".join(wrong)


# --- the graph builder itself, on a small made-up package ---------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Graph:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return build_graph(tmp_path / PACKAGE)


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": '"""Docstring only."""\n',
            "a/__init__.py": "from .b import thing\n",
            "a/b.py": (
                "from typing import TYPE_CHECKING\n"
                "import builder.c\n"
                "if TYPE_CHECKING:\n    from builder.a import c\n"
                "def f():\n    from .. import d\n    from . import x\n"
            ),
            "a/c.py": "from builder import a\n",
            "c.py": "from builder.a.b import f\n",
            "d.py": "",
        },
    )
    assert graph.imports["builder.a"] == {"builder.a.b"}
    assert graph.imports["builder.a.b"] == {"builder.c", "builder.a.c", "builder.d", "builder.a"}
    assert graph.imports["builder.a.c"] == {"builder.a"}
    edges = dependency_edges(graph)
    assert [chain(c) for c in cycles(edges)] == [
        "builder.a -> builder.a.b -> builder.a",
        "builder.a -> builder.a.b -> builder.a.c -> builder.a",
        "builder.a.b -> builder.c -> builder.a.b",
    ]


def test_imports_of_a_docstring_only_init_are_no_edges(tmp_path: Path) -> None:
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "p/__init__.py": '"""Only this."""\n',
            "p/q.py": "from builder.p import r\nfrom builder import p\n",
            "p/r.py": "import builder.p\n",
        },
    )
    assert cycles(dependency_edges(graph)) == []
