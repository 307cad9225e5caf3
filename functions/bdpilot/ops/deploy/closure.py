"""Which bdpilot modules the public function can import: the transitive closure of its handler's imports, read
from the source (the AST, so an import inside a function counts as much as one at the top), with the package
data those packages declare in pyproject. The zip holds exactly these, and so no operator code (`bdpilot.ops`)
that the function never runs and that would only widen what an attacker who reached it could call."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Sequence
from pathlib import Path

HANDLER_MODULE = "bdpilot.web.api"
PACKAGE = "bdpilot"


def module_path(package_dir: Path, module: str) -> Path | None:
    """The source file of `module` (a bdpilot.* name) under `package_dir` (functions/bdpilot), if any."""
    parts = module.split(".")[1:]
    base = package_dir.joinpath(*parts)
    if base.is_dir() and (base / "__init__.py").is_file():
        return base / "__init__.py"
    source = base.with_suffix(".py")
    return source if parts and source.is_file() else None


def imported_names(source: Path, module: str) -> set[str]:
    """Every dotted name `source` imports, absolute (relative imports resolved against `module`); for
    `from a import b`, both `a` and `a.b` (b may be a submodule or just a name: the caller keeps what exists)."""
    is_package = source.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def module_closure(package_dir: Path, root: str | Sequence[str] = HANDLER_MODULE) -> set[str]:
    """`root` and every bdpilot module it reaches, with the packages (`__init__`) that importing them runs.
    Several roots: a handler and the modules it imports by name at run time (importlib), which the AST cannot see."""
    seen: set[str] = set()
    pending = [root] if isinstance(root, str) else list(root)
    while pending:
        module = pending.pop()
        if module in seen or (module != PACKAGE and not module.startswith(PACKAGE + ".")):
            continue
        source = module_path(package_dir, module)
        if source is None:
            continue  # `from bdpilot.x import some_function`: a name, not a module
        seen.add(module)
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run first
        pending.extend(imported_names(source, module))
    return seen


def package_data(pyproject: Path) -> dict[str, list[str]]:
    """The [tool.setuptools.package-data] globs, per package: the same list the installed package gets."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    data: dict[str, list[str]] = config.get("tool", {}).get("setuptools", {}).get("package-data", {})
    return data


def function_files(package_dir: Path, pyproject: Path, root: str | Sequence[str] = HANDLER_MODULE) -> list[Path]:
    """The files under `package_dir` the function needs: its module closure and those packages' data."""
    modules = module_closure(package_dir, root)
    chosen: set[Path] = set()
    for module in modules:
        source = module_path(package_dir, module)
        assert source is not None  # module_closure keeps only modules with a source
        chosen.add(source)
    for package, patterns in package_data(pyproject).items():
        if package in modules:
            folder = package_dir.joinpath(*package.split(".")[1:])
            for pattern in patterns:
                chosen.update(path for path in folder.glob(pattern) if path.is_file())
    return sorted(chosen)
