"""Arrows point inward: the domain knows only the standard library and eventsourcing.domain."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {(path.name, a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((path.name, node.module))
    return found


def test_domain_imports_only_stdlib_eventsourcing_domain_and_itself() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"domain", "__future__"}
    bad = {
        (f, m) for f, m in imports_of("domain")
        if m.split(".")[0] not in allowed_roots and m != "eventsourcing.domain"
    }
    assert bad == set()


def test_contracts_know_neither_domain_nor_services() -> None:
    bad = {(f, m) for f, m in imports_of("contracts") if m.split(".")[0] in {"services", "domain"}}
    assert bad == set()


def test_projections_use_only_pure_domain_rules_never_services() -> None:
    """Projections fold public events; they may reuse a pure domain rule (consent decisions),
    never a service."""
    bad = {(f, m) for f, m in imports_of("projections")
           if m.split(".")[0] == "services" or (m.startswith("domain") and m != "domain.consent")}
    assert bad == set()


def module_level_imports() -> dict[str, set[str]]:
    """Module → careloop modules it imports at import time (not inside functions or
    ``if TYPE_CHECKING``), the imports that can form a cycle."""
    graph: dict[str, set[str]] = {}
    for package in ("contracts", "domain", "projections", "services"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            deps: set[str] = set()
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.Import):
                    deps |= {a.name for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    deps |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            graph[name] = {d for d in deps if d.split(".")[0] in
                           {"contracts", "domain", "projections", "services"}}
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep):], dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles() -> None:
    assert find_cycles(module_level_imports()) == []


# The aggregates hold their event classes, whose paths are stored in every event store and
# so can never move: these modules are as long as their aggregate class.
AGGREGATE_MODULES = {"domain/case_conference.py", "domain/clinical_record.py", "domain/referral.py"}


def test_modules_stay_small() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("contracts", "domain", "projections", "services")
        for path in (ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 350
    }
    assert set(long) <= AGGREGATE_MODULES, long
