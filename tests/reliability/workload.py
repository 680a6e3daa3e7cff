"""A steady load as partners produce it: many clients' referrals travelling the whole loop
at once, each step sent only after the previous one's receipt, and every message resent
with the same message_id when its receipt is slow (partners retry)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import UTC, datetime
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.errors import Error as NatsError

from contracts.v1.receipts import Receipt
from services.partners.client import PartnerClient
from tests.helpers import message

STEPS = (
    "client.registered", "consent.recorded", "referral.made", "referral.received",
    "referral.accepted", "referral.interim_update_sent", "referral.completed",
    "referral.outcome_acknowledged",
)
REFERRAL_STEPS = STEPS[2:]


@dataclass
class Case:
    """One client and one referral, from registration to the closed loop."""

    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    referral_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    consent_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    messages: list[dict[str, Any]] = field(default_factory=list)
    receipts: dict[str, list[Receipt]] = field(default_factory=dict)
    """Every receipt seen per message_id (a resend can bring more than one)."""

    def __post_init__(self) -> None:
        for step in STEPS:
            m = message(step)
            m["message_id"] = f"load-{uuid.uuid4()}"
            # Happening now, as live traffic does: the examples' November dates put every
            # response deadline in the past, and the deadline watcher (which may run at any
            # moment, e.g. when it takes its lease back after NATS was away) rightly records
            # them, as events no message accounts for.
            m["occurred_at"] = datetime.now(UTC).isoformat()
            ids = {"client_id": self.client_id, "referral_id": self.referral_id,
                   "consent_id": self.consent_id}
            m["payload"].update({k: v for k, v in ids.items() if k in m["payload"]})
            self.messages.append(m)


@dataclass
class Load:
    nats_url: str
    inbound_stream: str
    cases: list[Case]
    concurrency: int = 32
    resend_after: float = 5.0
    attempts: int = 0
    resends: int = 0
    rejected: list[Receipt] = field(default_factory=list)
    _partners: dict[str, PartnerClient] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(len(c.messages) for c in self.cases)

    async def _partner(self, source: str) -> PartnerClient:
        if source not in self._partners:
            # Partners keep reconnecting for ever; careloop's NATS may be restarted under them.
            nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1,
                                    reconnect_time_wait=0.5, connect_timeout=5)
            client = PartnerClient(nc, source, self.inbound_stream)
            await client.start()
            self._partners[source] = client
        return self._partners[source]

    async def send(self, case: Case, m: dict[str, Any]) -> Receipt:
        partner = await self._partner(m["source_system"])
        body = json.dumps(m).encode()
        while True:
            self.attempts += 1
            try:
                receipt = await partner.post_raw(body, m["message_type"], self.resend_after)
            except (TimeoutError, NatsError, OSError):
                self.resends += 1
                await asyncio.sleep(0.2)
                continue
            case.receipts.setdefault(m["message_id"], []).append(receipt)
            return receipt

    async def _run_cases(self, queue: asyncio.Queue[Case]) -> None:
        while not queue.empty():
            case = queue.get_nowait()
            for m in case.messages:
                receipt = await self.send(case, m)
                if receipt.status != "accepted":
                    self.rejected.append(receipt)
                    break

    async def run(self) -> None:
        queue: asyncio.Queue[Case] = asyncio.Queue()
        for case in self.cases:
            queue.put_nowait(case)
        try:
            await asyncio.gather(*(self._run_cases(queue) for _ in range(self.concurrency)))
        finally:
            for partner in self._partners.values():
                with contextlib.suppress(Exception):  # NATS may be the thing that is down
                    await partner.close()
