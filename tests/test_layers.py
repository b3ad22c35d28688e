"""How the project's packages depend on each other: no tier module imports another tier module (the
wiring, components/server.py, connects them, and components/tiers.py names them), no import runs in a
circle, and the layers point one way: vocabulary <- settings <- components/preflight/policy <- __main__."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from tests.conftest import ROOT

TIERS = ("agent", "apiserver", "async_delete", "elasticsearch", "fileserver", "mongodb", "redis", "webserver")
PACKAGES = ("vocabulary", "settings", "components", "preflight", "policy", "program", "admission")
# What each package may import from the project (beyond itself).
ALLOWED = {
    "vocabulary": set(),
    "admission": {"vocabulary"},
    "settings": {"vocabulary", "program"},
    "program": {"settings"},
    "components": {"vocabulary", "settings", "program"},
    "preflight": {"vocabulary", "settings"},
    "policy": {"vocabulary", "settings", "admission", "program"},
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> set[str]:
    return {_module(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _imports(path: Path, modules: set[str] | None = None) -> set[str]:
    """Project modules `path` imports (relative imports resolved; `from x import y` counts x.y when it is a module)."""
    tree = ast.parse(path.read_text())
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    if modules is None:
        modules = _project_modules()
    return {name for name in found if name in modules}


@functools.cache
def _parsed_graph() -> dict[str, frozenset[str]]:
    modules = _project_modules()  # once, not once per file
    return {_module(p): frozenset(_imports(p, modules) - {_module(p)})
            for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _graph() -> dict[str, set[str]]:
    """The import graph, parsed once per session for the three tests below; each gets its own copy."""
    return {module: set(imported) for module, imported in _parsed_graph().items()}


def test_no_tier_module_imports_another_and_the_policies_import_none():
    graph = _graph()
    tier_modules = {f"components.{t}" for t in TIERS}
    for tier in tier_modules:
        assert not graph[tier] & (tier_modules - {tier}), f"{tier} imports {graph[tier] & tier_modules}"
    assert not graph["components.network_policies"] & tier_modules


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_packages_import_only_the_layers_below():
    for module, imported in _graph().items():
        package = module.split(".")[0]
        others = {name.split(".")[0] for name in imported} - {package}
        assert others <= ALLOWED[package], f"{module} imports {others - ALLOWED[package]}"
