"""The runtime component that keeps the hash chain up with the store."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from services.audit.hash_chain import HashChain

log = structlog.get_logger("careloop.hash_chain")


class HashChainKeeper:
    def __init__(self, chain: HashChain, interval_seconds: float) -> None:
        self.chain, self.interval = chain, interval_seconds

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.chain.advance)
            except Exception as e:  # database away: the next round picks up from the head
                log.warning("hash_chain_retrying", error=type(e).__name__, detail=str(e)[:200])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
