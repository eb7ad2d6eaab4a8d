"""The layout's import rules, checked over the source with `ast` so that a wrong import fails CI.

Why a test and not a convention: the rules (a domain that knows neither dialect, engines that know no
storage, no circles) decay one convenient import at a time, and lazy imports inside functions are
exactly how the old circles hid. So every `import` and `from ... import` in `src/songforge` counts,
wherever it stands: module level, inside functions, under `try`, and under `if TYPE_CHECKING:`.

What counts as an edge of the module graph:
- `import songforge.a.b` and `from songforge.a import b` (where `songforge/a/b.py` or `songforge/a/b/`
  exists) are edges to the module `songforge.a.b`; `from songforge.a import name` (a name defined in
  `songforge/a/__init__.py`) is an edge to the package module `songforge.a`. Relative imports are
  resolved first.
- Python also runs every parent package's `__init__` when it imports a submodule; that implicit step is
  NOT an edge. Otherwise every package whose `__init__` re-exports a submodule would be a circle by
  itself (submodule -> its package -> submodule). A submodule that explicitly imports a name from its
  own package's `__init__` while that `__init__` imports the submodule IS a circle, and is reported:
  it means the facade and its parts depend on each other.
- Imports under `if TYPE_CHECKING:` count for the layer rules (a lower layer must not even name a
  higher layer's types) but not for circles: they never run, and they are Python's sanctioned way to
  annotate a back-reference without making the modules load each other.
A circle is a strongly connected component of two or more modules (Tarjan's algorithm); the failure
lists every import inside the component so it can be cut at the cheapest edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "songforge"

# The layers above the domain, which nothing below may import (server and cli are composition roots).
_ABOVE_CORE = ("dialects", "http", "workers", "engines", "server", "cli")

# (who, what they must not import): prefixes of module names, without the leading "songforge.".
LAYER_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("audio", ("core", "outbox", *_ABOVE_CORE)),
    ("store", ("core", "outbox", *_ABOVE_CORE)),
    ("music", ("core", "outbox", *_ABOVE_CORE)),
    ("core", _ABOVE_CORE),
    ("engines", ("store", "core", "outbox", "dialects", "http", "workers", "server", "cli")),
    ("outbox", ("core", *_ABOVE_CORE)),
]
# Third-party packages a layer must not use: the domain makes no HTTP calls (the outbox does).
THIRD_PARTY_RULES: list[tuple[str, tuple[str, ...]]] = [("core", ("httpx",))]
# Only the composition roots may import the server module.
SERVER_IMPORTERS = ("server", "cli", "wiring", "__main__")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "songforge.core.queue"
    target: str  # the imported module (resolved), or a third-party dotted name
    file: str  # path relative to the repository root
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        return f"{self.module} -> {self.target} ({self.file}:{self.line})"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


FILES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
MODULES = set(FILES) | {".".join(m.split(".")[:i]) for m in FILES for i in range(1, m.count(".") + 1)}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _known(name: str) -> str:
    """The longest prefix of `name` that is one of our modules (`import songforge.a.b.c` runs a.b.c)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in MODULES:
            return ".".join(parts[:i])
    return name


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    rel = str(path.relative_to(ROOT))

    def visit(node: ast.AST, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, _known(alias.name), rel, node.lineno, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(module, full if full in MODULES else _known(base), rel, node.lineno, type_only)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_only)

    yield from visit(tree, False)


# One entry per (module, target, line): `from a import x, y` is one import statement to fix, not two.
IMPORTS = list(dict.fromkeys(imp for module, path in FILES.items() for imp in _imports_of(module, path)))


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _fail_on(title: str, bad: list[Import]) -> None:
    if bad:
        listing = "\n  ".join(str(imp) for imp in bad)
        pytest.fail(f"{title}: {len(bad)} import(s)\n  {listing}", pytrace=False)


@pytest.mark.parametrize(("layer", "forbidden"), LAYER_RULES, ids=[layer for layer, _ in LAYER_RULES])
def test_layers_import_nothing_above_them(layer: str, forbidden: tuple[str, ...]) -> None:
    who = f"songforge.{layer}"
    bad = [
        imp
        for imp in IMPORTS
        if _under(imp.module, who) and any(_under(imp.target, f"songforge.{f}") for f in forbidden)
    ]
    bad += [
        imp
        for imp in IMPORTS
        for rule_layer, packages in THIRD_PARTY_RULES
        if rule_layer == layer and _under(imp.module, who) and any(_under(imp.target, p) for p in packages)
    ]
    _fail_on(f"{who} must not import {', '.join(forbidden)}", bad)


def test_only_composition_roots_import_the_server() -> None:
    roots = tuple(f"songforge.{r}" for r in SERVER_IMPORTERS)
    bad = [
        imp
        for imp in IMPORTS
        if _under(imp.target, "songforge.server") and not any(_under(imp.module, r) for r in roots)
    ]
    _fail_on("only server.py, cli/ and wiring import songforge.server", bad)


def test_dialects_do_not_import_each_other() -> None:
    def dialect(name: str) -> str | None:
        parts = name.split(".")
        return parts[2] if len(parts) > 2 and parts[:2] == ["songforge", "dialects"] else None

    bad = [
        imp
        for imp in IMPORTS
        if dialect(imp.module) and dialect(imp.target) and dialect(imp.module) != dialect(imp.target)
    ]
    _fail_on("a dialect imports another dialect", bad)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a deep import chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_circles() -> None:
    runtime = [i for i in IMPORTS if not i.type_only and i.target in MODULES and i.target != i.module]
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in runtime:
        graph[imp.module].add(imp.target)
    circles = _strongly_connected(graph)
    lines = []
    for members in circles:
        inside = set(members)
        edges = [imp for imp in runtime if imp.module in inside and imp.target in inside]
        lines.append(f"circle of {len(members)} modules: " + ", ".join(members))
        lines += [f"  {imp}" for imp in edges]
    if circles:
        pytest.fail(f"{len(circles)} import circle(s)\n" + "\n".join(lines), pytrace=False)


def test_the_check_sees_lazy_and_type_only_imports() -> None:
    """Guards the checker itself: if it stopped seeing imports inside functions, every rule would pass."""
    assert len(FILES) > 50
    lazy = [i for i in IMPORTS if i.module == "songforge.engines.singing" and _under(i.target, "songforge")]
    assert any(i.target == "songforge.engines.singing.lyrics" for i in lazy), lazy
    assert any(i.type_only for i in lazy), lazy
