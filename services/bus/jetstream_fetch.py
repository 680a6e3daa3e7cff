"""Fetch what is ready now, without waiting to fill a batch.

nats-py's ``fetch(n, timeout)`` returns at once with the messages already waiting, but when
none are, its lingering pull then waits for all ``n`` (or the timeout) after the first one
arrives: at low traffic every stage would add up to its whole timeout. So: wait for one
message, then take whatever else is ready (a 5 ms grace at most).
"""

from __future__ import annotations

from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

GRACE_SECONDS = 0.005


async def fetch_ready(sub: Any, batch: int, wait: float) -> list[Msg]:
    """Up to ``batch`` messages as soon as one is there; [] after ``wait`` seconds."""
    try:
        first: list[Msg] = await sub.fetch(1, timeout=wait)
    except (TimeoutError, NatsTimeoutError):
        return []
    if batch <= 1:
        return first
    try:
        more: list[Msg] = await sub.fetch(batch - 1, timeout=GRACE_SECONDS)
    except (TimeoutError, NatsTimeoutError):
        more = []
    return first + more
