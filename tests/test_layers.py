"""The package's layers, read from its source: every import (inside functions too)
is an edge; the CLI sits on top, the data layer below the networks, no cycles,
nothing from benchmarks/."""
import ast
import os

import pytest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src", "nnfast")


def _module_name(path):
    rel = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
    if rel.endswith("__init__"):
        rel = rel[: -len("__init__")].rstrip(".")
    return "nnfast" + ("." + rel if rel else "")


def _modules():
    out = {}
    for root, _dirs, files in os.walk(SRC):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                out[_module_name(path)] = path
    return out


def _imports(name, path, known):
    """Modules of the package that ``name`` imports (absolute names, submodules resolved)."""
    is_pkg = path.endswith("__init__.py")
    package = name if is_pkg else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [mod + "." + a.name for a in node.names]
        else:
            continue
        for t in targets:
            if t.startswith("benchmarks"):
                found.add(t)
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t != "nnfast":
                found.add(t)
    return found


@pytest.fixture(scope="module")
def graph():
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def test_the_layers_exist():
    mods = _modules()
    for name in ("nnfast.data.loader", "nnfast.data.download", "nnfast.data.safe_pickle",
                 "nnfast.data.expand", "nnfast.data.registry", "nnfast.cli.main",
                 "nnfast.mnist_loader", "nnfast.expand_mnist", "nnfast.network", "nnfast.network2",
                 "nnfast.network3"):
        assert name in mods, name


def test_nothing_imports_the_cli(graph):
    for name, deps in graph.items():
        if name.startswith("nnfast.cli") or name == "nnfast.__main__":
            continue
        assert not [d for d in deps if d.startswith("nnfast.cli")], name


def test_data_layer_imports_nothing_above_it(graph):
    above = ("nnfast.cli", "nnfast.network", "nnfast.mnist_loader", "nnfast.expand_mnist")
    for name, deps in graph.items():
        if name.startswith("nnfast.data"):
            assert not [d for d in deps if d.startswith(above)], name


def test_the_package_never_imports_benchmarks(graph):
    for name, deps in graph.items():
        assert not [d for d in deps if d.startswith("benchmarks")], name


def test_no_import_cycle(graph):
    state = {}

    def visit(node, stack):
        state[node] = 1
        for d in graph.get(node, ()):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d, stack + [d])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_only_the_reference_imports_the_reference(graph):
    """The oracle shares nothing with what it is checked against: no module of the package
    outside nnfast.reference imports it (tests do)."""
    for name, deps in graph.items():
        if name.startswith("nnfast.reference"):
            continue
        assert not [d for d in deps if d.startswith("nnfast.reference")], name
