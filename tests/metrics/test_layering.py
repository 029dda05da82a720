"""The metrics package measures: it imports nothing of PromoLens but ``recsys.core`` (and itself)."""

from __future__ import annotations

import ast
from pathlib import Path

METRICS = Path(__file__).resolve().parents[2] / "recsys" / "metrics"


def _recsys_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "recsys" or n.startswith("recsys.")}


def test_metrics_imports_only_core():
    offending = {
        f"{path.name}: {name}"
        for path in METRICS.glob("*.py")
        for name in _recsys_imports(path)
        if not (name.startswith("recsys.core") or name.startswith("recsys.metrics"))
    }
    assert not offending, f"recsys/metrics may import only recsys.core: {sorted(offending)}"
