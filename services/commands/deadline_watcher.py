"""Records missed referral response deadlines as events (careloop itself is the actor).

It looks for candidates in the care-plan view (cheap, possibly a little stale) and lets the
Referral aggregate decide; each record is keyed in the message ledger by referral and
deadline kind, so a second watcher or a restart never records one twice. Deadlines are
compared with today's date in UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from uuid import UUID

import structlog

from domain.errors import DomainError
from domain.provenance import Actor, Provenance
from domain.referral import Referral
from projections import care_plan
from projections.view_store import ViewStore
from services.store.care_app import CareLoop

log = structlog.get_logger("careloop.deadlines")

WATCHER = Actor(id="careloop-deadline-watcher", role="system", organisation="careloop")
OPEN_FOR = {"response-due": ("requested",), "response-deadline": ("requested", "received")}
FIELD = {"response-due": "response_due", "response-deadline": "response_deadline"}


def candidates(plans: list[dict[str, object]], today: date) -> list[tuple[UUID, str]]:
    found = []
    for plan in plans:
        referrals = plan.get("referrals") or {}
        assert isinstance(referrals, dict)
        for rid, referral in referrals.items():
            for kind, statuses in OPEN_FOR.items():
                due = referral.get(FIELD[kind])
                if (due and referral["status"] in statuses
                        and kind not in referral.get("missed_deadlines", [])
                        and date.fromisoformat(due) < today):
                    found.append((UUID(rid), kind))
    return found


class DeadlineWatcher:
    def __init__(self, app: CareLoop, views: ViewStore, interval_seconds: float = 60.0,
                 on_committed: object = None) -> None:
        self.app, self.views, self.interval = app, views, interval_seconds
        self.on_committed = on_committed
        self.recorded = 0

    def _record(self, referral_id: UUID, kind: str, today: date) -> bool:
        referral = self.app.find(referral_id, Referral)
        if referral is None:
            return False
        provenance = Provenance(
            actor=WATCHER, occurred_at=datetime.now(UTC), source_system="careloop",
            message_id=f"deadline-{kind}-{referral_id}", correlation_id=f"referral-{referral_id}")
        if self.app.processed(provenance.source_system, provenance.message_id):
            return False
        try:
            referral.record_missed_deadline(kind, today, provenance)
        except DomainError:
            return False  # the view was behind: answered in time after all
        outcome = self.app.record(provenance, "referral.response_deadline_missed", [referral])
        return not outcome.duplicate

    def check(self, today: date | None = None) -> int:
        """Record every deadline missed as of ``today``; returns how many were recorded."""
        today = today or datetime.now(UTC).date()
        recorded = 0
        for referral_id, kind in candidates(self.views.scan(care_plan.VIEW), today):
            if self._record(referral_id, kind, today):
                recorded += 1
                log.info("deadline_missed", referral_id=str(referral_id), kind=kind)
        self.recorded += recorded
        return recorded

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await asyncio.to_thread(self.check) and callable(self.on_committed):
                    self.on_committed()
            except Exception as e:  # store away: try again next round
                log.warning("deadline_check_failed", error=type(e).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
