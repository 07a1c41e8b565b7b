"""The house's rules, checked from the code's own imports: no cycle, no arrow from the library up to
the benchmarks, and nothing of the benchmarks in what the functions deploy."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imports(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of ``package`` under ``root`` and the modules it imports, at any depth of the file
    (imports inside functions count: they are arrows too)."""
    found: dict[str, set[str]] = {}
    for path in (root / package).rglob("*.py"):
        name = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        found[name] = targets
    return found


def test_the_library_has_no_import_cycle() -> None:
    graph = imports(ROOT / "shared", "memplane")
    # A package's __init__ re-exporting its modules is not a cycle; only module-to-module arrows count.
    packages = {name for name in graph if (ROOT / "shared" / name.replace(".", "/")).is_dir()}
    edges = {
        m: {t for t in targets if t in graph and t != m and t not in packages} for m, targets in graph.items()
    }
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(edges[module]):
            assert seen.get(target) != 1, " -> ".join([*path, module, target])
            if target not in seen:
                visit(target, [*path, module])
        seen[module] = 2

    for module in sorted(edges):
        if module not in seen:
            visit(module, [])


def test_the_library_never_imports_the_benchmarks() -> None:
    for module, targets in imports(ROOT / "shared", "memplane").items():
        assert not {t for t in targets if t.startswith("memplane_bench")}, module
    assert not (ROOT / "shared" / "memplane" / "evaluation").exists()
