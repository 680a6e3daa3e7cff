"""The partner registry is always on: embedded mode writes and uses the demo registry; a
careloop with a NATS server of its own and no registry refuses to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.partners.client import PartnerClient
from services.partners.demo_registry import DEMO_PARTNERS, with_registry
from services.partners.registry import RegistryNotConfigured
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import message

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_mode_writes_the_demo_registry_and_keeps_an_operators_edits(
        tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    resolved = with_registry(settings)
    assert resolved.partners_file == tmp_path / "data" / "partners.json"
    assert json.loads(resolved.partners_file.read_text())["partners"] == DEMO_PARTNERS
    resolved.partners_file.write_text('{"partners": []}')
    assert with_registry(settings).partners_file.read_text() == '{"partners": []}'  # type: ignore[union-attr]
    own = settings.model_copy(update={"nats_url": "nats://127.0.0.1:4222"})
    assert with_registry(own).partners_file is None  # production: nothing invented


async def test_embedded_careloop_refuses_unknown_systems(base_settings: Settings) -> None:
    """An unknown system gets no NATS user at all on embedded mode's closed bus (the NATS
    users are made from the registry); a registered one posts with its own."""
    from services.bus.embedded_auth import load_credentials

    embedded = base_settings.model_copy(update={"partners_file": None})
    runtime = await Runtime(embedded).start()
    try:
        assert runtime.settings.partners_file == embedded.data_dir / "partners.json"
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await PartnerClient.connect(runtime.nats_url, "rogue-ehr", embedded.stream_inbound,
                                        allow_reconnect=False)
        options = load_credentials(embedded.data_dir).partner_options
        assert "rogue-ehr" not in load_credentials(embedded.data_dir).passwords
        ehr = await PartnerClient.connect(runtime.nats_url, "riverside-ehr",
                                          embedded.stream_inbound, **options("riverside-ehr"))
        try:
            assert (await ehr.post(message("client.registered"))).status == "accepted"
        finally:
            await ehr.close()
    finally:
        await runtime.stop()


async def test_a_runtime_with_its_own_nats_and_no_registry_does_not_start(
        settings: Settings) -> None:
    with pytest.raises(RegistryNotConfigured, match="CARELOOP_PARTNERS_FILE"):
        await Runtime(settings.model_copy(update={"partners_file": None})).start()


def test_careloop_serve_without_a_registry_says_why_and_exits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_PARTNERS")}
    env.update(NATS_URL="nats://127.0.0.1:1", CARELOOP_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-m", "services.cli", "serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "will not start" in done.stdout and "CARELOOP_PARTNERS_FILE" in done.stdout
