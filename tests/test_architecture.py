"""The layout's rules, checked: small modules, no import cycles, a pure core and a cheap
``import reconify_otel``. What the wheel holds is tests/test_packaging.py's."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "reconify_otel"
MAX_LINES = 400
CHECKED_TREES = ("src", "tests", "benchmarks", "examples")
# What the pure core must never reach: I/O, the SDK's exporter machinery, protobuf.
CORE_FORBIDDEN = (
    "opentelemetry.sdk.trace.export",
    "opentelemetry.proto",
    "google.protobuf",
    "requests",
)
# What ``import reconify_otel`` must not load: each costs start-up time in every process.
HEAVY = ("wrapt", "google.protobuf", "openai", "yaml", "requests", "reconify_otel.offline")


def python_files(*trees: str) -> Iterator[Path]:
    for tree in trees:
        for path in sorted((ROOT / tree).rglob("*.py")):
            if not any(part.startswith(".") or part == "__pycache__" for part in path.parts):
                yield path


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, *, module_level_only: bool) -> Iterator[tuple[str, list[str]]]:
    """(module, names taken from it) for each import in ``path``, relative ones resolved;
    with ``module_level_only``, neither imports inside functions nor under TYPE_CHECKING
    (those run later, when every module is loaded, and cannot make a cycle)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> Iterator[tuple[str, list[str]]]:
        for node in nodes:
            if isinstance(node, ast.Import):
                yield from ((alias.name, []) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                yield base, [alias.name for alias in node.names]
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                if not module_level_only:
                    yield from visit(node.body)
                yield from visit(node.orelse)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not module_level_only:
                    yield from visit(node.body)
            elif isinstance(node, (ast.ClassDef, ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody"):
                    yield from visit(getattr(node, field, []))
                for handler in getattr(node, "handlers", []):
                    yield from visit(handler.body)

    yield from visit(tree.body)


def imported_names(path: Path) -> set[str]:
    """Every module or name ``path`` imports, anywhere in it, as absolute dotted names."""
    names: set[str] = set()
    for base, taken in imports_of(path, module_level_only=False):
        names.add(base)
        names.update(f"{base}.{name}" for name in taken)
    return names


def test_no_module_is_over_400_lines() -> None:
    over = {
        str(path.relative_to(ROOT)): count
        for path in python_files(*CHECKED_TREES)
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert over == {}, f"split these into coherent modules of at most {MAX_LINES} lines"


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in python_files("src/reconify_otel")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for base, taken in imports_of(path, module_level_only=True):
            submodules = {f"{base}.{t}" for t in taken} & set(modules)
            # ``from pkg import sub`` needs the submodule; ``from pkg import name`` needs pkg.
            if len(submodules) < len(taken) or not taken:
                submodules.add(base)
            graph[name] |= (submodules & set(modules)) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle, as the modules in order, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_relative_and_package_imports() -> None:
    graph = import_graph()
    assert "reconify_otel.core.payload" in graph["reconify_otel.core.mapping"]
    assert "reconify_otel.exporter.span_exporter" in graph["reconify_otel.exporter"]


def test_no_import_cycles_among_reconify_otel_modules() -> None:
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize("path", list(python_files("src/reconify_otel/core")), ids=lambda p: p.name)
def test_the_core_is_pure(path: Path) -> None:
    names = imported_names(path)
    forbidden = {
        name
        for name in names
        for prefix in CORE_FORBIDDEN
        if name == prefix or name.startswith(prefix + ".")
    }
    outside = {
        name
        for name in names
        if name.startswith("reconify_otel")
        and not (name == "reconify_otel.core" or name.startswith("reconify_otel.core."))
    }
    assert forbidden | outside == set()


@pytest.mark.parametrize(
    "path", list(python_files("src/reconify_otel/core/conventions")), ids=lambda p: p.name
)
def test_the_conventions_are_the_bottom_of_the_core(path: Path) -> None:
    """Everything asks the conventions what a span is; they ask nothing of the rest."""
    names = imported_names(path)
    inside = "reconify_otel.core.conventions"
    assert {n for n in names if n.startswith("reconify_otel") and not n.startswith(inside)} == set()


def test_importing_the_package_loads_nothing_heavy() -> None:
    probe = (
        "import sys, reconify_otel\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') "
        "for h in heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_paths_the_docs_name_exist() -> None:
    """Module paths in README.md and docs/, and the README's layout, follow the code."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pattern = r"`((?:src|tests|benchmarks|examples|\.ci)/[\w./-]*)`"
    named = {path for text in texts for path in re.findall(pattern, text.read_text())}
    development = (ROOT / "README.md").read_text().split("\n## Development\n", 1)[1]
    layout = development.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    for line in layout:
        if line.startswith("  "):  # under src/reconify_otel/: the names before the comment
            named.update(f"src/reconify_otel/{n}" for n in line.strip().split("   ")[0].split())
        else:
            named.update(word for word in line.split() if word.endswith("/"))
    assert {"src/reconify_otel/core/", "src/reconify_otel/prepare.py", "benchmarks/"} <= named
    assert sorted(path for path in named if not (ROOT / path).exists()) == []


ABOVE_DELIVERY = ("prepare", "exporter", "handler", "bridge", "cli", "instrumentation", "offline")


@pytest.mark.parametrize(
    "path", list(python_files("src/reconify_otel/delivery")), ids=lambda p: p.name
)
def test_delivery_reaches_no_layer_above_it(path: Path) -> None:
    """The entry points hand delivery what it needs (a ``Parcel``, a ``Sealer``), so it
    never imports them: it may use runtime/, settings and the core only."""
    above = tuple(f"reconify_otel.{layer}" for layer in ABOVE_DELIVERY)
    names = imported_names(path)
    assert {n for n in names for a in above if n == a or n.startswith(a + ".")} == set()
