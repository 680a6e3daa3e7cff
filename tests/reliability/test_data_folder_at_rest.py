"""After the whole care story in embedded mode (the Quick start), nothing under ``data/``
is readable PHI: every file (event store, view store, their WAL files, JetStream's files,
logs) is scanned for the story's names, dates, addresses and free text. Files are 0600 and
folders 0700. Start-up tells how to get a token and never prints or logs one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.bus.embedded_auth import load_credentials
from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.test_care_story import Team
from tests.e2e.test_care_story import (
    test_the_care_story_from_referrals_to_conference_to_revoked_consent as care_story,
)
from tests.reliability.conftest import Figures
from tests.reliability.test_no_phi_leaks import phi_of_the_examples


@pytest.fixture
def base_settings(base_settings: Settings) -> Settings:
    """With the partner feeds on (the suite's default turns them off)."""
    return base_settings.model_copy(update={"feeds": True})


def every_file(folder: Path) -> tuple[list[Path], list[Path]]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    return files, folders


@pytest.mark.parametrize("store_kind", ["sqlite"])
@pytest.mark.parametrize("encryption", ["auto", "off"])
async def test_nothing_under_data_is_readable_phi_after_the_care_story(
    base_settings: Settings, figures: Figures, encryption: str,
) -> None:
    """With encryption off (on purpose) the same scan finds the story: it can see."""
    settings = base_settings.model_copy(update={"cipher_key": "",  # embedded makes its own
                                                "encryption": encryption})
    runtime = await Runtime(settings).start()
    team = Team(runtime, load_credentials(settings.data_dir).partner_options)
    try:
        await care_story(runtime, team)
    finally:
        for client in team.clients.values():
            await client.close()
        await runtime.stop()

    data = settings.data_dir
    files, folders = every_file(data)
    assert any("jetstream" in str(f) for f in files)
    phi = {text for text in phi_of_the_examples() if len(text) >= 4}
    found: dict[str, set[str]] = {}
    scanned = 0
    for path in files:
        raw = path.read_bytes()
        scanned += len(raw)
        hits = {text for text in phi if text.encode() in raw}
        if hits:
            found[str(path.relative_to(data))] = hits
    loose = [str(p) for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600]
    loose += [str(p) for p in folders if stat.S_IMODE(p.stat().st_mode) != 0o700]
    if encryption == "off":
        assert found and all(not name.startswith("nats") for name in found), found
        return
    assert (data / "cipher-key").exists()
    figures("data_at_rest", {"files": len(files), "bytes_scanned": scanned,
                             "phi_strings_checked": len(phi), "files_with_phi": len(found),
                             "loose_modes": len(loose)})
    assert found == {}
    assert loose == []

