"""Fetch what is ready now, without waiting to fill a batch.

nats-py's ``fetch(n, timeout)`` returns at once with the messages already waiting, but when
none are, its lingering pull then waits for all ``n`` (or the timeout) after the first one
arrives: at low traffic every stage would add up to its whole timeout. So: wait for one
message, then take the others the server already holds for this consumer. The first
message's metadata says how many those are (``num_pending``): none, and the batch is that
one message (no second round trip); some, and they are asked for with ``no_wait`` (the
server answers at once with what it has), so a batch holds everything that was waiting
however busy the machine is, not whatever arrived within a few milliseconds.
"""

from __future__ import annotations

from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError


async def fetch_ready(sub: Any, batch: int, wait: float) -> list[Msg]:
    """Up to ``batch`` messages as soon as one is there; [] after ``wait`` seconds.

    ``wait`` also bounds the second request, which only waits if the server cannot hand
    over what it reported waiting (for example while too many are unacknowledged)."""
    try:
        first: list[Msg] = await sub.fetch(1, timeout=wait)
    except (TimeoutError, NatsTimeoutError):
        return []
    waiting = min(batch - 1, _pending_after(first[-1]))
    if waiting <= 0:
        return first
    try:
        more: list[Msg] = await sub.fetch(waiting, timeout=wait)
    except (TimeoutError, NatsTimeoutError):
        more = []
    return first + more


def _pending_after(msg: Msg) -> int:
    """How many messages the consumer still holds for us after ``msg``."""
    try:
        return int(msg.metadata.num_pending or 0)
    except Exception:  # not a JetStream delivery (no metadata): take nothing more
        return 0
