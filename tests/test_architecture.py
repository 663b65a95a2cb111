"""The floor plan, read from the source's imports (nothing is run): no import cycles among
fastnn's modules, the kernels import nothing of the layers above them, and no module imports
another of the project inside a function to dodge a cycle."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imports inside functions that are there on purpose, not to dodge a cycle: the bench's child
# process imports only the framework it times (so the onnxruntime process never loads Numba).
LOCAL_IMPORTS_ALLOWED = {"fastnn.benchmark.child"}


def modules() -> dict[str, Path]:
    """Every module of the package by its import name (kernels/ is installed as
    fastnn.kernels)."""
    out = {}
    for base, prefix in ((ROOT / "fastnn", "fastnn"), (ROOT / "kernels", "fastnn.kernels")):
        for path in base.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = [prefix, *path.relative_to(base).with_suffix("").parts]
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict) -> list[tuple[str, bool]]:
    """(imported project module, inside a function?) for each import in the file."""
    tree = ast.parse(path.read_text())
    in_function = {id(node) for f in ast.walk(tree)
                   if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                   for node in ast.walk(f) if node is not f}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = (".".join(package[: len(package) - node.level + 1]
                             + ([node.module] if node.module else []))
                    if node.level else node.module)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found += [(t, id(node) in in_function) for t in targets if t in known and t != name]
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    # importing one's own package (e.g. `from . import __version__`) is no edge of a cycle
    return {name: {t for t, _ in imports(name, path, known) if not name.startswith(t + ".")}
            for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_the_modules_import_each_other_without_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_kernels_import_nothing_above_them():
    up = {(name, t) for name, targets in graph().items() if name.startswith("fastnn.kernels")
          for t in targets if not t.startswith("fastnn.kernels")}
    assert up == set()


def test_no_project_import_hides_inside_a_function():
    known = modules()
    local = {(name, t) for name, path in known.items() if name not in LOCAL_IMPORTS_ALLOWED
             for t, inside in imports(name, path, known) if inside}
    assert local == set()
