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
