"""The packages import one way: no cycle between modules, no module takes another's private name.

The graph is grimp's (the same one `lint-imports` checks the floors with): every import counts,
inside functions and under TYPE_CHECKING too, so an import moved into a function to hold a cycle
apart is still a cycle here. Jobs enqueued by name must name functions that exist.
"""

from __future__ import annotations

import ast
import importlib
import itertools
from pathlib import Path

import grimp
import pytest

from workers import catalog

PACKAGES = ("novacast", "workers", "adapters", "bot", "pipeline", "policy")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    groups.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def describe_cycle(graph: grimp.ImportGraph, group: list[str]) -> str:
    """One cycle through `group`, each step with the line that imports."""
    start = group[0]
    members = set(group)
    first = min(m for m in graph.find_modules_directly_imported_by(start) if m in members)
    chain = graph.find_shortest_chain(importer=first, imported=start) or (first, start)
    path = [start, *chain]
    steps = []
    for importer, imported in itertools.pairwise(path):
        details = graph.get_import_details(importer=importer, imported=imported)
        line = "".join(f" (line {d['line_number']}: {d['line_contents']})" for d in details[:1])
        steps.append(f"  {importer} -> {imported}{line}")
    return f"cycle among {len(group)} modules {group}:\n" + "\n".join(steps)


def test_strongly_connected_finds_a_cycle() -> None:
    """The check itself can fail: a two-module circle is found."""
    toy = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        toy.add_module(module)
    toy.add_import(importer="a.one", imported="a.two")
    toy.add_import(importer="a.two", imported="a.one")
    toy.add_import(importer="a.three", imported="a.one")
    cycles = [g for g in strongly_connected(toy) if len(g) > 1]
    assert cycles == [["a.one", "a.two"]]
    assert "a.one -> a.two\n  a.two -> a.one" in describe_cycle(toy, cycles[0])


def test_no_module_imports_itself_back_through_others(graph: grimp.ImportGraph) -> None:
    cycles = [g for g in strongly_connected(graph) if len(g) > 1]
    assert not cycles, "\n\n".join(describe_cycle(graph, g) for g in cycles)


def private_imports(path: Path, root: Path = ROOT) -> list[str]:
    """`from project.module import _name` lines in one file (a module's own names are fine)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
            continue
        if node.module.split(".")[0] not in PACKAGES:
            continue
        names = [a.name for a in node.names if a.name.startswith("_") and a.name[1:2] != "_"]
        found.extend(f"{path.relative_to(root)}:{node.lineno}: {node.module}.{n}" for n in names)
    return found


def test_a_private_import_is_found(tmp_path: Path) -> None:
    source = "from workers.render_jobs import _render_step, voice\nfrom . import _x\n"
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert private_imports(probe, root=tmp_path) == ["probe.py:1: workers.render_jobs._render_step"]


def test_no_module_takes_another_modules_private_names() -> None:
    found = [
        line
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in private_imports(path)
    ]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def dotted_names() -> list[str]:
    return [
        *(step.function for step in catalog.RENDER_STEPS),
        catalog.PUBLISH_FUNCTION,
        catalog.FIRE_FUNCTION,
        catalog.ON_FAILURE,
    ]


@pytest.mark.parametrize("name", dotted_names())
def test_every_job_enqueued_by_name_exists(name: str) -> None:
    module, _, function = name.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function, None)), name
