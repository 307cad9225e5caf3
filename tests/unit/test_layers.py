"""The package's layers, read from the source: domain < settings < store < intake < web < ops.

A module may import its own layer or a lower one, never a higher one, counting every import: at module level,
inside functions (lazy imports) and under `if TYPE_CHECKING:`. And no two modules import each other, directly
or round a longer loop, at module level (what runs when a module is first imported).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "functions" / "bdpilot"
LAYERS = ("domain", "settings", "store", "intake", "web", "console", "ops")


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["bdpilot", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer(module: str) -> int:
    """The rank of a module's layer; the package's own __init__ sits with the domain (it imports nothing)."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else 0


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.Module, *, top_level: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, or (top_level) only those that run when the module is imported: not inside a
    function or class body, and not under `if TYPE_CHECKING:`."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if top_level and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if top_level and isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported(module: str, path: Path, known: set[str], *, top_level: bool) -> Iterator[tuple[str, int]]:
    """The package's modules that `module` imports, with the line of each import."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), top_level=top_level):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from bdpilot.domain import wording` imports the module bdpilot.domain.wording.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            # `import bdpilot.domain.campaign.TZ`-like names fall back to the nearest module that exists.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("bdpilot") and target != module:
                yield target, node.lineno


def test_the_layers_are_the_package_folders() -> None:
    found = modules()
    assert len(found) > 30, f"too few modules under {PACKAGE}"
    assert {m.split(".")[1] for m in found if m != "bdpilot"} == set(LAYERS)


def test_no_module_imports_a_higher_layer() -> None:
    found = modules()
    upward = []
    for module, path in found.items():
        for target, line in imported(module, path, set(found), top_level=False):
            if layer(target) > layer(module):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {module} -> {target} "
                              f"({LAYERS[layer(module)]} may not import {LAYERS[layer(target)]})")
    print("\n".join(upward))
    assert not upward, f"{len(upward)} imports of a higher layer (listed above)"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_loop() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_at_module_level() -> None:
    found = modules()
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], int] = {}
    for module, path in found.items():
        for target, line in imported(module, path, set(found), top_level=True):
            graph.setdefault(module, set()).add(target)
            lines.setdefault((module, target), line)
    loops = cycles(graph)
    edges = [f"{found[a].relative_to(ROOT)}:{lines[a, b]}: {a} -> {b}"
             for loop in loops for a in loop for b in sorted(graph.get(a, set()) & set(loop))]
    print("\n".join(edges))
    assert not loops, f"import cycles at module level: {loops}"
