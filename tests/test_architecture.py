"""The floor plan, checked: the layering rule, the house rules that a grep can see, and the map.

``docs/ARCHITECTURE.md`` describes the tree; these tests keep it true. When one fails, either the
change broke a rule (fix the code) or the plan changed on purpose (change the map and this file
together, in the same commit).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECSYS = ROOT / "recsys"
MAP = ROOT / "docs" / "ARCHITECTURE.md"

#: Which packages each part of recsys may import (besides itself). Lower layers never import higher ones.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "data": {"core"},
    "metrics": {"core"},
    "learn": {"core", "data", "metrics"},
    "insight": {"core", "data", "learn", "metrics"},
    "campaign": {"core", "data", "learn", "metrics", "insight"},
    "workspace": {"core", "data", "learn", "metrics", "insight", "campaign"},
    "charts": {"core", "data", "learn", "metrics", "insight", "campaign"},
    "cli": {"core", "data", "learn", "metrics", "insight", "campaign", "workspace"},
    "__init__": {"core", "data", "learn", "metrics", "insight", "campaign", "workspace"},
}


def _modules() -> list[Path]:
    return sorted(p for p in RECSYS.rglob("*.py") if "__pycache__" not in p.parts)


def _part(path: Path) -> str:
    rel = path.relative_to(RECSYS)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) == 1 else rel.parts[0]


def _type_only(tree: ast.AST) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            out.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return out


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every import that runs, at any depth (type-only ones excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_only(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


def test_recsys_never_imports_streamlit():
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in _modules() for line, mod, _ in _imports(p)
           if mod.split(".")[0] == "streamlit"]
    assert not bad, f"recsys must stay usable without Streamlit: {bad}"


def test_lightfm_is_imported_by_one_module_only():
    users = {str(p.relative_to(ROOT)) for p in _modules() for _, mod, _ in _imports(p) if mod.split(".")[0] == "lightfm"}
    assert len(users) == 1, f"lightfm should be wrapped by exactly one module, found {sorted(users)}"


def test_layers_import_only_downwards():
    bad = []
    for p in _modules():
        part = _part(p)
        for line, mod, names in _imports(p):
            if not mod.startswith("recsys"):
                continue
            targets = [mod.split(".")[1]] if mod.count(".") >= 1 else [n for n in names]
            for target in targets:
                target = target.removesuffix(".py")
                if target != part and target not in ALLOWED.get(part, set()):
                    bad.append(f"{p.relative_to(ROOT)}:{line} ({part} imports {target})")
    assert not bad, "layering rule broken:\n" + "\n".join(bad)


def test_only_the_workspace_layer_takes_a_workspace():
    bad = [f"{p.relative_to(ROOT)}:{line}" for p in _modules() if _part(p) not in {"workspace", "cli", "__init__"}
           for line, mod, names in _imports(p) if mod.startswith("recsys.workspace")]
    assert not bad, f"only recsys/workspace (and the CLI) may use the workspace: {bad}"


def test_no_private_name_is_used_across_modules():
    bad = []
    for p in list(_modules()) + sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        tree = ast.parse(p.read_text(encoding="utf-8"))
        aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys"):
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        bad.append(f"{p.relative_to(ROOT)}:{node.lineno} imports {node.module}.{a.name}")
                    aliases.add(a.asname or a.name)
            elif isinstance(node, ast.Import):
                aliases.update((a.asname or a.name) for a in node.names if a.name.startswith("recsys"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{p.relative_to(ROOT)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "private names used across modules (make them public or move them):\n" + "\n".join(bad)


def test_pages_hold_no_sql():
    bad = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "pages").glob("*.py"))
           if any(word in p.read_text(encoding="utf-8") for word in ("duckdb", "SELECT ", "read_parquet("))]
    assert not bad, f"pages describe screens; move queries into recsys/workspace: {bad}"


def test_the_map_names_every_module():
    text = MAP.read_text(encoding="utf-8")
    missing = [str(p.relative_to(ROOT)) for p in _modules()
               if p.name != "__init__.py" and str(p.relative_to(RECSYS)) not in text]
    assert not missing, f"docs/ARCHITECTURE.md does not mention: {missing}"


def test_every_package_has_a_catalogue():
    for init in sorted(RECSYS.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) >= 3, f"{init.relative_to(ROOT)} needs a docstring catalogue of its modules"


def test_nothing_in_the_repository_points_outside_it():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *_modules()]
    bad = [str(p.relative_to(ROOT)) for p in texts if "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert not bad, f"the map is docs/ARCHITECTURE.md; no file should point at an outside design file: {bad}"


#: Modules allowed over the size limit, each because it is one idea (keep this list short).
ONE_IDEA: dict[str, str] = {
}
MODULE_LINES = 800


def test_no_module_is_a_warehouse():
    big = {str(p.relative_to(ROOT)): n for p in _modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
           and str(p.relative_to(ROOT)) not in ONE_IDEA}
    assert not big, f"modules over {MODULE_LINES} lines (split along a seam, or add to ONE_IDEA with the reason): {big}"


def test_the_notebook_names_resolve():
    import recsys

    missing = [name for name in recsys.__all__ if not hasattr(recsys, name)]
    assert not missing, f"recsys.__all__ names that do not resolve: {missing}"
