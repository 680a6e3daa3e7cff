"""No PHI in logs, subjects or ids: the whole care story runs against careloop as its own
process, with JSON logs at DEBUG captured and every message on the NATS server recorded;
no client name, birth date or free text from the messages appears in a log line, a
subject, a header or an id."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg

from services.runtime import Runtime
from services.settings import Settings
from tests.e2e.test_care_story import (
    Team,
)
from tests.e2e.test_care_story import (
    test_the_care_story_from_referrals_to_conference_to_revoked_consent as care_story,
)
from tests.helpers import EXAMPLES
from tests.reliability.components import Component
from tests.reliability.conftest import Figures

STORY_TEXTS = ["Medication review.", "Disability benefit appeal.",
               "Appeal window has closed; reapply in March.", "Client withdrew it.",
               "New application."]


def phi_of_the_examples() -> set[str]:
    """Names, birth dates, addresses, phones and every free-text value of every example."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and (
                " " in value or key in ("given_name", "family_name", "birth_date", "phone")):
            found.add(value)

    for path in EXAMPLES.glob("*.json"):
        walk(json.loads(path.read_text())["payload"])
    return found | set(STORY_TEXTS)


async def announced(runtime_file: Path, timeout: float = 120.0) -> dict[str, str]:
    """The addresses ``careloop serve`` writes once it is up."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            urls: dict[str, str] = json.loads(runtime_file.read_text())
            return urls
        except (FileNotFoundError, ValueError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@dataclass
class RunningCareloop:
    """What the story needs of a runtime, for careloop running as its own process."""

    nats_url: str
    http_url: str
    settings: Settings
    token_secret: str | None = None


@pytest.mark.parametrize("store_kind", ["postgres"])
async def test_the_care_story_leaves_no_phi_in_logs_subjects_or_ids(
    settings: Settings, tmp_path: Path, figures: Figures,
) -> None:
    setup = await Runtime(settings, components=()).start()  # declares the streams
    await setup.stop()
    careloop = Component("all", settings, tmp_path / "careloop")
    careloop.env["CARELOOP_LOG_LEVEL"] = "DEBUG"
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def record(msg: Msg) -> None:
        seen.append((msg.subject, dict(msg.headers or {}), msg.data))

    monitor = await nats.connect(settings.nats_url or "")
    await monitor.subscribe(">", cb=record)
    careloop.start()
    try:
        urls = await announced(careloop.data_dir / "runtime.json")
        running = RunningCareloop(urls["nats_url"], urls["http_url"], settings,
                                  settings.token_secret)
        team = Team(running)  # type: ignore[arg-type]
        try:
            await care_story(running, team)  # type: ignore[arg-type]
        finally:
            for client in team.clients.values():
                await client.close()
        await monitor.flush()
    finally:
        careloop.stop()
        await monitor.close()

    phi = phi_of_the_examples()
    logs = careloop.log_path.read_text()
    log_lines = logs.splitlines()
    subjects = {subject for subject, _, _ in seen}
    headers = [f"{k}: {v}" for _, h, _ in seen for k, v in h.items()]
    bodies = b"\n".join(data for _, _, data in seen).decode("utf-8", "replace")
    ids = {json.loads(line).get(key) for line in log_lines if line.startswith("{")
           for key in ("message_id", "correlation_id", "client_id")} - {None}

    leaks = {text for text in phi
             if text in logs or any(text in s for s in subjects)
             or any(text in h for h in headers) or any(text in str(i) for i in ids)}
    figures("no_phi", {"log_lines": len(log_lines), "nats_messages": len(seen),
                       "subjects": len(subjects), "phi_strings_checked": len(phi),
                       "leaked": len(leaks)})
    # The scan can see: the story's messages themselves carried PHI through NATS bodies.
    assert "Rivera" in bodies and "Appeal window has closed; reapply in March." in bodies
    receipts = [line for line in log_lines if '"event": "receipt"' in line]
    assert len(receipts) >= 20  # one per message of the story, each with its ids bound
    assert leaks == set()

