"""The sample story, posted over NATS exactly as partner systems would post it.

A social worker's system registers the example client, records the care team and the
client's consent to share housing information with the housing agency, and refers them to
housing; the
housing agency's system accepts and completes the referral; the referrer acknowledges the
outcome. The referral gets a fresh id on every run, so the demo can run again and again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import contracts
from contracts.v1.receipts import Receipt
from services.partners.client import PartnerClient
from services.partners.demo_worklists import worklist_story

EXAMPLES = Path(contracts.__file__).resolve().parent / "examples"


def example(message_type: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{message_type}.json").read_text())  # type: ignore[no-any-return]


def _restamp(message: dict[str, Any], referral_id: str, at: datetime) -> dict[str, Any]:
    message = {**message, "message_id": f"demo-{uuid.uuid4()}", "occurred_at": at.isoformat()}
    message["payload"] = {**message["payload"], "referral_id": referral_id}
    return message


def story(now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Messages of the story in order; the client is the one of the examples."""
    now = now or datetime.now(UTC)
    for setup in ("client.registered", "care_team.member_added", "consent.recorded"):
        yield example(setup)  # the housing referral needs the client's consent first
    referral_id = str(uuid.uuid4())
    steps = ["referral.made", "referral.accepted", "referral.completed",
             "referral.outcome_acknowledged"]
    for i, step in enumerate(steps):
        yield _restamp(example(step), referral_id, now - timedelta(days=len(steps) - i))
    yield from worklist_story(now)


async def post_story(
    nats_url: str, inbound_stream: str = "CARELOOP_INBOUND",
    options: Callable[[str], dict[str, Any]] = lambda system: {},
) -> list[Receipt]:
    """``options(system)``: how each system connects (its NATS user and password)."""
    receipts = []
    clients: dict[str, PartnerClient] = {}
    try:
        for message in story():
            source = message["source_system"]
            if source not in clients:
                clients[source] = await PartnerClient.connect(nats_url, source, inbound_stream,
                                                              **options(source))
            receipts.append(await clients[source].post(message))
    finally:
        for client in clients.values():
            await client.close()
    return receipts
