"""The reliability suite's figures: each test records what it did (messages sent, processes
killed, fuzz cases tried, lost, duplicated, leaked), and the run prints them at the end and
writes them to ``reliability-figures.json`` under pytest's base temporary directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIGURES = pytest.StashKey[dict[str, dict[str, Any]]]()
FIGURES_FILE = pytest.StashKey[Path]()

Figures = Callable[[str, dict[str, Any]], None]


@pytest.fixture
def figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Figures:
    config = request.config
    found = config.stash.setdefault(FIGURES, {})
    path = config.stash.setdefault(
        FIGURES_FILE, tmp_path_factory.getbasetemp() / "reliability-figures.json")

    def record(name: str, values: dict[str, Any]) -> None:
        found[name] = {**found.get(name, {}), **values}
        request.node.user_properties.append((name, json.dumps(values)))
        path.write_text(json.dumps(found, indent=2, sort_keys=True))

    return record


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(FIGURES, {})
    if not found:
        return
    terminalreporter.write_sep("=", "careloop reliability figures")
    for name, values in sorted(found.items()):
        terminalreporter.write_line(
            f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    terminalreporter.write_line(f"(written to {config.stash[FIGURES_FILE]})")
