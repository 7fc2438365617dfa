"""The shape of the code: no import cycles in stream-build, and every foreign API behind its one wall.

Imports are read from the source (ast), as Python runs them: imports inside functions count,
imports under ``if TYPE_CHECKING:`` (type hints only) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

from streambuild.graph import strongly_connected

CORE = Path(__file__).resolve().parents[2] / "core"

#: Each foreign Python API and the one module of stream-build allowed to import it.
WALLS = {
    "dnf": "streambuild._foreign.dnf4",
    "hawkey": "streambuild._foreign.dnf4",
    "libdnf5": "streambuild._foreign.libdnf5",
    "koji": "streambuild._foreign.koji",
    "kojihub": "streambuild._foreign.koji",
    "pyrpkg": "streambuild._foreign.rpkg",
    "fedpkg": "streambuild._foreign.rpkg",
    "rpm": "streambuild._foreign.rpmlib",
    "createrepo_c": "streambuild._foreign.createrepo",
}


def modules() -> Dict[str, Path]:
    found = {}
    for path in sorted((CORE / "streambuild").rglob("*.py")):
        name = ".".join(path.relative_to(CORE).with_suffix("").parts)
        found[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return found


def _type_only(tree: ast.AST) -> Set[int]:
    skipped: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(sub) for sub in ast.walk(node)}
    return skipped


def imports(name: str, path: Path) -> List[str]:
    """Every module ``name`` imports at run time, absolute."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skipped = _type_only(tree)
    out: List[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append(target)
            out += [f"{target}.{alias.name}" for alias in node.names]
    return out


def graph() -> Dict[str, Set[str]]:
    known = modules()
    return {name: {m for m in imports(name, path) if m in known and m != name} for name, path in known.items()}


def cycles(edges: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (the planner's own Tarjan)."""
    found = strongly_connected(sorted(edges), lambda node: sorted(edges[node]))
    return [sorted(c) for c in found if len(c) > 1]


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_foreign_apis_are_imported_behind_their_walls_only() -> None:
    strays = []
    for name, path in modules().items():
        for imported in imports(name, path):
            top = imported.split(".")[0]
            if top in WALLS and WALLS[top] != name:
                strays.append(f"{name} imports {imported} (only {WALLS[top]} may)")
    assert strays == []
    for wall in set(WALLS.values()):
        assert wall in modules(), f"the wall {wall} is gone"
