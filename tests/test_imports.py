"""The package's modules form layers: no module imports, at the top of the file or inside a function,
one that imports it back. A deferred import that closes a loop is still a loop to a reader."""

import ast
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import colorbench

PKG = Path(colorbench.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(PKG).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (relative imports, at any depth in the file)."""
    files = {_module(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = here[:len(here) - node.level + 1]
            names = [".".join([*base, node.module])] if node.module else [".".join([*base, a.name]) for a in node.names]
            for name in names:
                while name not in files and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in files and name != mod:
                    graph[mod].add(name)
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert {"train", "config", "objectives", "evaluate", "files", "video", "colorize"} <= set(graph)
    assert "config" in graph["train"] and "colorize" in graph["video"]  # the graph sees top-level imports
    assert "video" in graph["files"]
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as e:
        raise AssertionError(f"import cycle: {' -> '.join(e.args[1])}") from None


def test_a_deferred_import_that_closes_a_loop_is_found(tmp_path, monkeypatch):
    """The check itself: a function-level import back from a lower module is reported."""
    pkg = tmp_path / "colorbench"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text("def f():\n    from .train import g\n")
    (pkg / "train.py").write_text("from .config import f\nfrom .models import m\n")
    (pkg / "models" / "__init__.py").write_text("from . import cnn\n")
    (pkg / "models" / "cnn.py").write_text("from ..config import f\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    graph = import_graph()
    assert graph == {"": set(), "config": {"train"}, "train": {"config", "models"}, "models": {"models.cnn"},
                     "models.cnn": {"config"}}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError:
        return
    raise AssertionError("the loop config -> train -> config was not found")
