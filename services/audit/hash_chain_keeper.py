"""The runtime component that keeps the hash chain up with the store, and watches it.

Every ``hash_chain_seconds`` it chains new events (never one whose seal does not hold);
every ``hash_chain_verify_seconds`` (or four times as long as the last walk took, on a large
store) it re-walks the whole store against the chain. Anything
found (altered, deleted, reordered, inserted, forged rows) is logged as an alert and
reported (``report``, shared on /health) until a later verification passes again; while
tampering stands, the chain is not extended.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog

from services.audit.hash_chain import Finding, HashChain, TamperFound

log = structlog.get_logger("careloop.hash_chain")


class HashChainKeeper:
    def __init__(self, chain: HashChain, interval_seconds: float,
                 verify_seconds: float = 5.0) -> None:
        self.chain, self.interval, self.verify_interval = chain, interval_seconds, verify_seconds
        self.finding: Finding | None = None
        self.checked = 0
        self.verified_at: float | None = None

    def report(self) -> dict[str, Any]:
        integrity: dict[str, Any] = {"ok": self.finding is None, "checked": self.checked,
                                     "sealed": self.chain.seal_key is not None,
                                     "verified_at": self.verified_at}
        if self.finding is None:
            return {"integrity": integrity}
        f = self.finding
        integrity["finding"] = {"position": f.position, "kind": f.kind, "detail": f.detail}
        return {"status": "degraded", "integrity": integrity,
                "problems": [f"tamper evidence: event {f.position} {f.kind} ({f.detail})"]}

    def _found(self, finding: Finding) -> None:
        if self.finding != finding:
            log.error("integrity_alert", alert=True, position=finding.position, kind=finding.kind,
                      detail=finding.detail)
        self.finding = finding

    async def run(self, stop: asyncio.Event) -> None:
        next_verify = 0.0
        while not stop.is_set():
            try:
                if self.finding is None:
                    await asyncio.to_thread(self.chain.advance)
                if time.monotonic() >= next_verify:
                    started = time.monotonic()
                    verdict = await asyncio.to_thread(self.chain.verify)
                    took = time.monotonic() - started
                    # A large store takes a while to re-walk: at most a fifth of the time.
                    next_verify = time.monotonic() + max(self.verify_interval, 4 * took)
                    self.checked, self.verified_at = verdict.checked, time.time()
                    if verdict.finding is not None:
                        self._found(verdict.finding)
                    elif self.finding is not None:
                        log.warning("integrity_restored", checked=verdict.checked)
                        self.finding = None
            except TamperFound as e:
                self._found(e.finding)
            except Exception as e:  # database away: the next round picks up from the head
                log.warning("hash_chain_retrying", error=type(e).__name__, detail=str(e)[:200])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
