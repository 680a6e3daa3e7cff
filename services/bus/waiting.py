"""Waiting that a stop cuts short, and the back-off every consumer loop takes when NATS or
the database is away: drop the subscription (it is made again), wait, double the wait."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

MAX_BACKOFF_SECONDS = 10.0


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def drop_and_back_off(sub: Any, stop: asyncio.Event, backoff: float) -> float:
    """Unsubscribe ``sub`` (if any; its connection may be gone already), wait ``backoff``
    or until stopped, and return the next back-off."""
    if sub is not None:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    await sleep_or_stop(stop, backoff)
    return min(backoff * 2, MAX_BACKOFF_SECONDS)
