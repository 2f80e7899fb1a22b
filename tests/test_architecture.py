"""The layering of docs/architecture.md ("Layers"), checked on the source with ``ast`` (nothing is imported):

* the library (``calbench/`` outside the CLI, ``trainers/``, ``tasks/``) never imports the CLI
  (``calbench.cli``, ``calbench.commands``, ``calbench.argcheck``), not even inside a function; within the CLI,
  only ``calbench/__main__.py`` imports the entry point ``calbench.cli``;
* the modules of ``calbench``, ``trainers`` and ``tasks`` import one another without a cycle: neither counting
  the imports that run when a module is loaded (module level, including inside a top-level ``if``/``try``, but
  not ``if TYPE_CHECKING:``) nor counting every import, inside functions too. The one exception is registry
  discovery, which loads modules by names it finds at run time (``importlib.import_module(f"tasks.{name}")``:
  the task, method, backend, command and trainer registries) and is not an import of a named module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("calbench", "trainers", "tasks")
CLI_MODULES = ("calbench.cli", "calbench.commands", "calbench.argcheck")
#: Modules that are the CLI and may import it.
CLI_FILES = ("calbench/cli.py", "calbench/__main__.py", "calbench/commands/", "calbench/argcheck.py")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {module_name(p, root): p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))}


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` names, with relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(nodes, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every import among ``nodes``: ``import a.b`` gives ``a.b``; ``from a import b``
    gives ``a.b`` (a submodule or a name in ``a``); ``importlib.import_module("a.b")`` with a literal gives
    ``a.b``."""
    out = []
    for n in nodes:
        if isinstance(n, ast.Import):
            out += [(n.lineno, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = _absolute(n, module, is_package)
            out += [(n.lineno, f"{base}.{a.name}") for a in n.names]
        elif (
            isinstance(n, ast.Call)
            and n.args
            and isinstance(n.args[0], ast.Constant)
            and isinstance(n.args[0].value, str)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) in ("import_module", "__import__")
        ):
            out.append((n.lineno, n.args[0].value))
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def load_time_nodes(tree: ast.Module):
    """The nodes that run when the module is loaded: top-level statements, the bodies of top-level ``if`` /
    ``try`` / ``with`` blocks (except ``if TYPE_CHECKING:``) and class bodies; not function bodies."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack += node.orelse
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # its body runs when called (a decorator or default could import, but none does)
        if isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef, ast.ExceptHandler)):
            yield node
        else:  # a simple statement: every expression in it, e.g. ``x = importlib.import_module("a.b")``
            yield from ast.walk(node)
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack += getattr(node, field, [])
        elif isinstance(node, ast.ExceptHandler):
            stack += node.body
        elif isinstance(node, ast.ClassDef):  # a class body runs at load time too
            stack += node.body


def cli_imports(root: Path = ROOT) -> list[str]:
    """``file:line imports NAME`` for every import of the CLI outside the CLI, and of the entry point
    ``calbench.cli`` anywhere but ``calbench/__main__.py`` (a command that imports it runs back up)."""
    found = []
    for module, path in source_modules(root).items():
        rel = path.relative_to(root).as_posix()
        forbidden = ("calbench.cli",) if rel.startswith(CLI_FILES) else CLI_MODULES
        if rel in ("calbench/cli.py", "calbench/__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for line, name in imported_names(ast.walk(tree), module, path.name == "__init__.py"):
            if any(name == c or name.startswith(c + ".") for c in forbidden):
                found.append(f"{rel}:{line} imports {name}")
    return found


def every_node(tree: ast.Module):
    """Every node of the module, inside functions too, except the bodies of ``if TYPE_CHECKING:`` blocks."""
    skipped = {id(n) for b in ast.walk(tree) if _is_type_checking(b) for s in b.body for n in ast.walk(s)}
    return (n for n in ast.walk(tree) if id(n) not in skipped)


def import_graph(root: Path = ROOT, *, inside_functions: bool = False) -> dict[str, dict[str, int]]:
    """module -> {module it loads at load time: line}; with ``inside_functions``, every module it imports
    anywhere. Importing ``a.b.c`` loads ``a``, ``a.b`` and ``a.b.c``; the importer's own parent packages are
    already loading and are not counted (``from a import name`` in ``a.b`` still counts as a use of ``a``)."""
    modules = source_modules(root)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        own_parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        edges: dict[str, int] = {}
        nodes = every_node(tree) if inside_functions else load_time_nodes(tree)
        for line, name in imported_names(nodes, module, path.name == "__init__.py"):
            parts = name.split(".")
            while parts and ".".join(parts) not in modules:  # ``from a import name``: the module is ``a``
                parts.pop()
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target != module and (target not in own_parents or i == len(parts)):
                    edges.setdefault(target, line)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of the graph, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, {})):
            if state.get(w) == 1:
                return path[path.index(w) :] + [w]
            if w not in state and (cycle := visit(w)):
                return cycle
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (cycle := visit(v)):
            return cycle
    return None


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, int]], root: Path = ROOT) -> str:
    modules = source_modules(root)
    return "\n".join(f"  {modules[a].relative_to(root)}:{graph[a][b]} imports {b}" for a, b in zip(cycle, cycle[1:]))


def test_the_library_does_not_import_the_cli():
    found = cli_imports()
    assert not found, (
        "library modules import the CLI (move the shared piece into a library module, e.g. "
        "calbench.errors for UserError):\n" + "\n".join(found)
    )


def test_no_import_cycles():
    graph = import_graph()
    assert "calbench.records" in graph["calbench.runner"]  # the graph is read at all
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle at load time:\n" + describe_cycle(cycle, graph)


def test_no_import_cycles_counting_imports_inside_functions():
    graph = import_graph(inside_functions=True)
    assert "calbench.figures" in graph["calbench.runner"]  # an import inside a function is counted
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle (imports inside functions counted):\n" + describe_cycle(cycle, graph)


# The checks themselves, on a small tree planted in tmp_path.


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    "text",
    [
        "from calbench.cli import UserError\n",
        "import calbench.commands.eval\n",
        "from calbench import cli\n",
        "from .commands.eval import print_summary\n",
        "def f():\n    from calbench.commands import eval\n",
        "import importlib\nimportlib.import_module('calbench.cli')\n",
        "def f():\n    from calbench.argcheck import positive_int\n",
    ],
)
def test_a_planted_cli_import_is_found(tmp_path, text):
    root = _tree(
        tmp_path,
        {
            "calbench/lib.py": text,
            "calbench/cli.py": "import calbench.commands\nfrom calbench.argcheck import positive_int\n",
            "calbench/__main__.py": "from calbench.cli import main\n",
            "calbench/argcheck.py": "from calbench.errors import UserError\n",
            "calbench/commands/__init__.py": "from calbench.argcheck import positive_int\n",
        },
    )
    assert [f.split(":")[0] for f in cli_imports(root)] == ["calbench/lib.py"]


def test_a_command_that_imports_the_entry_point_is_found(tmp_path):
    root = _tree(
        tmp_path,
        {
            "calbench/cli.py": "import calbench.commands\n",
            "calbench/commands/__init__.py": "",
            "calbench/commands/eval.py": "def f():\n    from calbench.cli import help_text\n",
        },
    )
    assert cli_imports(root) == ["calbench/commands/eval.py:2 imports calbench.cli.help_text"]


def test_a_planted_cycle_is_found_and_imports_in_functions_are_not(tmp_path):
    root = _tree(
        tmp_path,
        {
            "calbench/a.py": "from calbench.b import x\n",
            "calbench/b.py": "import os\ntry:\n    from calbench import c\nexcept ImportError:\n    pass\n",
            "calbench/c.py": "def f():\n    from calbench.a import y\n",
            "calbench/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from calbench.e import z\n",
            "calbench/e.py": "from calbench.d import w\n",
        },
    )
    assert find_cycle(import_graph(root)) is None
    # counting imports inside functions, the same tree has a cycle; the TYPE_CHECKING import is still not one
    assert find_cycle(import_graph(root, inside_functions=True)) == [
        "calbench.a",
        "calbench.b",
        "calbench.c",
        "calbench.a",
    ]
    (root / "calbench/c.py").write_text("from calbench.a import y\n")
    graph = import_graph(root)
    assert find_cycle(graph) == ["calbench.a", "calbench.b", "calbench.c", "calbench.a"]
    assert "calbench/b.py:3 imports calbench.c" in describe_cycle(find_cycle(graph), graph, root)


def test_a_package_and_its_submodules_are_no_cycle(tmp_path):
    root = _tree(
        tmp_path,
        {
            "calbench/m/__init__.py": "from calbench.m.x import f\n",
            "calbench/m/x.py": "from calbench.m.y import g\n",
            "calbench/m/y.py": "G = 1\n",
            "calbench/user.py": "from calbench.m.y import G\n",
        },
    )
    graph = import_graph(root)
    assert find_cycle(graph) is None and set(graph["calbench.user"]) == {"calbench.m", "calbench.m.y"}
    (root / "calbench/m/y.py").write_text("from calbench.m import f\n")  # uses the package's half-made namespace
    assert find_cycle(import_graph(root)) == ["calbench.m", "calbench.m.x", "calbench.m.y", "calbench.m"]


# One owner of the run manifest: only calbench/runs.py names the file run.json as a path.

#: Where code that could read or write run folders lives (tests excepted: they plant broken manifests).
MANIFEST_SCAN = ("calbench", "trainers", "tasks", "scripts", "tools", "benchmarks", "results")
MANIFEST_OWNER = "calbench/runs.py"


def _names_manifest_file(value: str) -> bool:
    """Whether a string constant is a path to the manifest: ``run.json``, ``*/run.json``, ``out/run.json``."""
    return value == "run.json" or (value.endswith("/run.json") and not any(c.isspace() for c in value))


def scanned_trees(root: Path = ROOT):
    """``(path relative to root, ast)`` of every Python file of :data:`MANIFEST_SCAN` but calbench/runs.py."""
    for top in MANIFEST_SCAN:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel != MANIFEST_OWNER:
                yield rel, ast.parse(path.read_text(encoding="utf-8"), filename=rel)


def manifest_file_uses(root: Path = ROOT) -> list[str]:
    """``file:line`` of every string constant that names ``run.json`` as a path outside calbench/runs.py.
    Docstrings, messages and the literal text of f-strings (``f"wrote {out}/run.json"``) are not paths."""
    found = []
    for rel, tree in scanned_trees(root):
        in_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in in_fstring
                and _names_manifest_file(node.value)
            ):
                found.append(f"{rel}:{node.lineno} names {node.value!r}")
    return found


def test_only_calbench_runs_opens_run_json():
    found = manifest_file_uses()
    assert not found, (
        "run.json is read and written by calbench/runs.py only (read_manifest, write_manifest, "
        "has_manifest, MANIFEST_FILE):\n" + "\n".join(found)
    )


def test_a_planted_run_json_path_is_found(tmp_path):
    files = {
        "calbench/runs.py": 'MANIFEST_FILE = "run.json"\n',
        "calbench/bad.py": 'import json\nm = json.loads(open(d + "/run.json").read())\n',
        "scripts/bad.py": 'from pathlib import Path\nfor p in Path(".").glob("*/*/run.json"):\n    pass\n',
        "trainers/bad.py": 'def f(d):\n    return (d / "run.json").exists()\n',
        "calbench/fine.py": '"""Reads run.json."""\ndef f(out):\n    print(f"wrote {out}/run.json")\n'
        '    raise ValueError("run.json is not valid JSON")\n',
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    found = manifest_file_uses(tmp_path)
    assert sorted(f.split(":")[0] for f in found) == ["calbench/bad.py", "scripts/bad.py", "trainers/bad.py"]


#: What reads, builds or writes a manifest: calbench/runs.py's own names. Anywhere else a manifest comes from
#: ``Run.open`` (reading), ``new_manifest`` / ``RunManifest.derive`` (building) and ``Run.write`` (writing).
MANIFEST_INTERNALS = ("read_manifest", "write_manifest", "VERSION_KEY", "FORMAT_VERSION")


def manifest_builders(root: Path = ROOT) -> list[str]:
    """``file:line`` of every use, outside calbench/runs.py, of the manifest reader and writer, the format
    version key, or the ``RunManifest(...)`` constructor (``RunManifest.of(dict)`` only gives a dict accessors)."""
    found = []
    for rel, tree in scanned_trees(root):
        for node in ast.walk(tree):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            imported = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            if name in MANIFEST_INTERNALS or any(n in MANIFEST_INTERNALS for n in imported):
                found.append(f"{rel}:{node.lineno} uses {name or ', '.join(imported)}")
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RunManifest":
                found.append(f"{rel}:{node.lineno} builds RunManifest(...)")
    return sorted(set(found))


def test_only_calbench_runs_builds_or_reads_a_manifest():
    found = manifest_builders()
    assert not found, (
        "a manifest is read with Run.open, built with new_manifest / RunManifest.derive and written with "
        "Run.write (calbench/runs.py):\n" + "\n".join(found)
    )


def test_a_planted_manifest_builder_is_found(tmp_path):
    files = {
        "calbench/runs.py": "def read_manifest(p):\n    return RunManifest({})\n",
        "calbench/a.py": "from calbench.runs import read_manifest\n",
        "calbench/b.py": "from calbench import runs\nm = runs.write_manifest\n",
        "trainers/c.py": "from calbench.runs import RunManifest\nm = RunManifest({'calbench_run': 1})\n",
        "scripts/d.py": "from calbench.runs import RunManifest\nm = RunManifest.of({})\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert manifest_builders(tmp_path) == [
        "calbench/a.py:1 uses read_manifest",
        "calbench/b.py:2 uses write_manifest",
        "trainers/c.py:2 builds RunManifest(...)",
    ]


def ref_parsers(root: Path = ROOT) -> list[str]:
    """``file:line`` of every ``.partition("#")`` / ``.split("#")`` outside calbench/runs.py: ``RUN#METHOD`` is
    parsed by ``calbench.runs.parse_ref`` alone."""
    found = []
    for rel, tree in scanned_trees(root):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) in ("partition", "split", "rpartition", "rsplit")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value == "#"
            ):
                found.append(f"{rel}:{node.lineno}")
    return found


def test_run_method_refs_are_parsed_in_one_place(tmp_path):
    assert ref_parsers() == []
    (tmp_path / "calbench").mkdir()
    (tmp_path / "calbench/x.py").write_text('run, _, method = "a#b".partition("#")\n')
    assert ref_parsers(tmp_path) == ["calbench/x.py:1"]


def test_no_test_module_imports_another():
    """Shared test code lives in conftest.py (fixtures) and tests/helpers.py; a test module imports neither a test
    module nor a script by path."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.split(".")[-1].startswith("test_") or "spec_from_file_location" in name:
                    found.append(f"tests/{path.name}:{node.lineno} imports {name}")
        if "spec_from_file_location" in path.read_text(encoding="utf-8") and path.name != "test_architecture.py":
            found.append(f"tests/{path.name} loads a file as a module")
    assert not found, "\n".join(found)
