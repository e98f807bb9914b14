"""The shape of the package itself: imports that point one way, backends chosen in one
place, models that reach the compiled kernels only through a backend, and small files.

The import graph is read from the sources (ast), imports inside functions included.
An edge goes from a module to each fastnn module it names in an import statement:
``import fastnn.a.b`` and ``from fastnn.a import b`` (b a submodule) point at
``fastnn.a.b``; ``from fastnn.a import Name`` (Name not a submodule) points at the
package ``fastnn.a`` itself, since that runs its ``__init__`` and may re-export Name from
anywhere. Importing a module also initialises its parent packages; that implicit step is
not an edge (a package ``__init__`` that re-exports its submodules would otherwise close
a cycle with every one of them), so a re-exporting ``__init__`` only counts where a
module imports a name from it, and then as a real edge.
"""
import ast
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fastnn"
if not (PACKAGE / "__init__.py").is_file() or not (ROOT / "src_c").is_dir():
    # tests/ copied away from the source tree (.ci/wheel.sh tests an installed wheel)
    pytest.skip("the fastnn and src_c sources are not beside tests/", allow_module_level=True)
BACKEND_NAMES = {"cpu", "reference", "cupy"}
MAX_LINES = 400
SOURCE_SUFFIXES = (".py", ".pyx", ".pxi", ".c", ".h")

# files over MAX_LINES, each with why it is allowed for now (paths relative to ROOT)
KNOWN_LONG = {
}


def _modules():
    """{dotted name: (path, is_package)} of every module of fastnn."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)
    return modules


def _imported(name, path, is_package, modules):
    """The fastnn modules that the import statements of module `name` point at."""
    package = name if is_package else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    targets.add(submodule)
                elif source in modules:
                    targets.add(source)
    targets.discard(name)
    return targets


def import_graph():
    """{module: set of the fastnn modules it imports}."""
    modules = _modules()
    return {name: _imported(name, path, is_package, modules)
            for name, (path, is_package) in modules.items()}


def cycles(graph):
    """The strongly connected components of more than one module (each sorted), and the
    modules that import themselves: every import cycle lies in one of them."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(start):
        # Tarjan's algorithm, iterative: (node, iterator over its successors)
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
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
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def _describe(graph, component):
    members = set(component)
    return "\n".join(f"  {m} -> {sorted(graph[m] & members)}" for m in component)


# ------------------------------------------------------------------------- (a) imports
def test_the_import_graph_is_read_from_the_sources():
    graph = import_graph()
    # a module-level import, a lazy one inside a method, a relative-free package import
    assert "fastnn.layers.base" in graph["fastnn.models.sequential"]
    assert "fastnn.saving" in graph["fastnn.models.sequential"]
    assert "fastnn.models" in graph["fastnn"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_fastnn_modules():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n\n".join(_describe(graph, c) for c in found)


def test_saving_imports_no_model_module():
    graph = import_graph()
    reached, todo = set(), ["fastnn.saving"]
    while todo:
        for target in graph[todo.pop()] - reached:
            reached.add(target)
            todo.append(target)
    assert not {m for m in reached if m == "fastnn.models" or m.startswith("fastnn.models.")}


# ---------------------------------------------------------------- (b) backend names
def _string_constants(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(set(), *(_string_constants(e) for e in node.elts))
    return set()


def backend_name_tests():
    """'path:line: code' of each comparison with a backend's name outside fastnn/backend/
    (`backend.name != "cpu"`, `name in ("cpu", "reference")`, ...)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[:2] == ("fastnn", "backend"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Compare) and BACKEND_NAMES & set().union(
                    *(_string_constants(x) for x in [node.left, *node.comparators])):
                found.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_backends_tests_a_backend_name():
    assert backend_name_tests() == []


# ------------------------------------------------------------------ (c) models, kernels
def kernel_imports_of_models():
    """'path:line: import' of each import of fastnn._kernels in fastnn/models/."""
    found = []
    for path in sorted((PACKAGE / "models").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "fastnn._kernels" or n.startswith("fastnn._kernels.") for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_models_import_no_compiled_kernels():
    assert kernel_imports_of_models() == []


# ---------------------------------------------------------------------- (d) file size
def _generated(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.readline().startswith("/* Generated by Cython")


def long_files():
    """{path: lines} of the sources under fastnn/ and src_c/ over MAX_LINES (generated
    C from Cython excluded)."""
    found = {}
    for top in (PACKAGE, ROOT / "src_c"):
        for dirpath, _, files in os.walk(top):
            for file in files:
                path = pathlib.Path(dirpath) / file
                if not file.endswith(SOURCE_SUFFIXES) or _generated(path):
                    continue
                with open(path, "rb") as f:
                    lines = sum(1 for _ in f)
                if lines > MAX_LINES:
                    found[path.relative_to(ROOT).as_posix()] = lines
    return found


def test_no_source_file_is_over_the_line_limit():
    over = {p: n for p, n in long_files().items() if p not in KNOWN_LONG}
    assert not over, f"files over {MAX_LINES} lines (split them by moving code): {over}"
