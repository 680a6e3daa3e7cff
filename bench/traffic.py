"""What a partner system sends: real contract messages, built from the committed examples."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NATS

from services.bus.jetstream_pipeline import PipelinedPublisher
from services.bus.streams import inbound_subject

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
_CACHE: dict[str, dict[str, Any]] = {}

REFERRAL_STORY = ("client.registered", "consent.recorded", "referral.made", "referral.accepted")
"""Four commands per client, like a nightly export: register, consent, refer, accept."""


def example(message_type: str) -> dict[str, Any]:
    if message_type not in _CACHE:
        _CACHE[message_type] = json.loads((EXAMPLES / f"{message_type}.json").read_text())
    return json.loads(json.dumps(_CACHE[message_type]))  # type: ignore[no-any-return]


def command(message_type: str, **payload: Any) -> dict[str, Any]:
    m = example(message_type)
    m["message_id"] = f"bench-{uuid.uuid4()}"
    m["payload"].update({k: str(v) for k, v in payload.items()})
    return m


def client_story(client_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    cid, rid = client_id or uuid.uuid4(), uuid.uuid4()
    return [
        command("client.registered", client_id=cid),
        command("consent.recorded", client_id=cid),
        command("referral.made", client_id=cid, referral_id=rid),
        command("referral.accepted", referral_id=rid),
    ]


def export(commands: int) -> list[dict[str, Any]]:
    """``commands`` messages, client by client."""
    out: list[dict[str, Any]] = []
    while len(out) < commands:
        out.extend(client_story())
    return out[:commands - commands % len(REFERRAL_STORY)] or out


def subject_of(m: dict[str, Any]) -> str:
    return inbound_subject(m["source_system"], m["message_type"])


async def publish_all(nc: NATS, stream: str, messages: list[dict[str, Any]],
                      window: int = 2000) -> None:
    """Load the inbound stream quickly (before a measurement starts)."""
    pipe = PipelinedPublisher(nc)
    pending: list[asyncio.Future[Any]] = []
    for m in messages:
        pending.append(await pipe.publish(subject_of(m), json.dumps(m).encode(), stream, {}))
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    await pipe.close()
