"""A message that kills ingest (the process dies; no exception to catch) must not kill it
for ever: recreating the consumer from its ack floor (``ordered_consumer``) would hand the
same message to every new process first.

When ingest starts and finds messages in flight (delivered, never acknowledged: the process
before it died holding them), it goes carefully: one message per batch up to the last
sequence the dead process had been given, so a killer meets ingest alone. Starts that find
the same ack floor with messages in flight are counted in a row (JetStream key-value bucket
``<consumer_prefix>-health``, key ``restarts.<durable>``). When ``ingest_max_deliver`` starts
in a row died there, the message just after the floor is the killer: it is dead-lettered
without being applied (or answered ``accepted`` if the ledger shows it committed) and ingest
moves on. A restart that makes progress resets the count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from services.health.component_reports import open_bucket
from services.settings import Settings

log = structlog.get_logger("careloop.ingest")


@dataclass(frozen=True)
class RestartPlan:
    careful_until: int = 0
    """Fetch one message at a time up to this sequence (0: no need)."""
    suspect: int | None = None
    """The sequence that killed ingest ``ingest_max_deliver`` times in a row."""
    restarts: int = 0


async def plan_restart(js: JetStreamContext, settings: Settings, durable: str, floor: int,
                       in_flight: int, delivered: int, counts: bool) -> RestartPlan:
    """``counts``: a process start (a resubscription inside a running process is no death)."""
    key = f"restarts.{durable}"
    try:
        bucket = await open_bucket(js, settings)
        try:
            entry = await bucket.get(key)
            last = json.loads(entry.value or b"{}")
        except KeyNotFoundError:
            last = {}
        count = int(last.get("count", 0))
        if counts:
            count = (count + 1 if last.get("floor") == floor else 1) if in_flight else 0
        careful = max(int(last.get("careful_until", 0)), delivered if in_flight else 0)
        await bucket.put(key, json.dumps(
            {"floor": floor, "count": count, "careful_until": careful}).encode())
    except Exception as e:  # NATS trouble: no guard this time, the order still holds
        log.warning("ingest_restart_guard_unavailable", error=type(e).__name__)
        return RestartPlan()
    suspect = floor + 1 if in_flight and count >= settings.ingest_max_deliver else None
    if suspect is not None:
        log.error("ingest_restart_loop", alert=True, inbound_sequence=suspect, restarts=count)
    return RestartPlan(careful if careful > floor else 0, suspect, count)
