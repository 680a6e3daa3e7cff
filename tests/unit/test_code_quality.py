"""House habits, checked: ruff clean everywhere, mypy --strict clean for the product code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    done = run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_finds_nothing() -> None:
    done = run("mypy", "--strict", "--cache-dir", "/tmp/careloop-mypy-cache",
               "contracts", "domain", "projections", "services")
    assert done.returncode == 0, done.stdout + done.stderr
