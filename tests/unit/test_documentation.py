"""The README is a front door and the docs stand on their own: links resolve, nothing outside."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_stays_a_front_door() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_quick_start_has_exactly_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert block.split("\n")[:2] == ["make run", "make test"]


def test_every_relative_link_in_the_docs_points_at_a_file_of_the_repository() -> None:
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path = (page.parent / target).resolve()
            if not path.exists() or ROOT not in path.parents:
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_no_page_cites_files_users_do_not_have() -> None:
    for page in PAGES:
        assert not re.search(r"DOMAIN\.md|STYLE\.md|\.\./shared|KNOWN-ISSUES", page.read_text()), page.name
