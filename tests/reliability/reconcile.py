"""Counts what a run left behind, in all three places: for every message a partner had
accepted, its ledger entry and events in the store, each event exactly once on the events
stream, and the views built from exactly those events."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts.v1.events import event_id
from projections import care_plan
from services.projector.consumer import CARE_PLAN
from services.relay.outbound_events import is_published
from services.relay.outbox_relay import stream_position
from services.settings import Settings
from services.store.care_app import create_care_app
from services.store.event_store_config import eventsourcing_env
from services.store.view_stores import open_view_store
from tests.reliability.workload import REFERRAL_STEPS, Case


@dataclass
class Reconciliation:
    messages: int = 0
    lost: int = 0
    """Accepted messages without a ledger entry, or with other events than their receipt."""
    receipts_disagreeing: int = 0
    """Messages whose receipts (first and resent) name different events."""
    store_events: int = 0
    store_events_unaccounted: int = 0
    stream_events: int = 0
    stream_missing: int = 0
    stream_duplicated: int = 0
    views_wrong: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return self.store_events_unaccounted + self.stream_duplicated + self.views_wrong

    def figures(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("problems")
        return {**out, "duplicated": self.duplicated}

    def note(self, problem: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(problem)


async def wait_until_quiescent(settings: Settings, timeout: float = 180.0) -> None:
    """Until the relay has published the store's head and the projection has applied the
    whole events stream (or ``timeout``, after which reconciliation shows what is missing)."""
    app = create_care_app(eventsourcing_env(settings))
    views = open_view_store(settings)
    nc = await nats.connect(settings.nats_url or "")
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head = await asyncio.to_thread(app.head_position)
            last_seq, published = await stream_position(js, settings.stream_events)
            view = await asyncio.to_thread(views.position, CARE_PLAN.name)
            if published == head and view.stream_seq == last_seq:
                return
            await asyncio.sleep(0.5)
    finally:
        await nc.close()
        app.close()
        views.close()


async def stream_event_ids(settings: Settings) -> list[str]:
    """Every event id on the events stream, in stream order (duplicates kept)."""
    nc = await nats.connect(settings.nats_url or "")
    try:
        js = nc.jetstream()
        last_seq, _ = await stream_position(js, settings.stream_events)
        sub = await js.pull_subscribe(
            "careloop.events.>", stream=settings.stream_events,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                                  inactive_threshold=60),
        )
        ids: list[str] = []
        seen = 0
        while seen < last_seq:
            for m in await sub.fetch(500, timeout=10):
                seen = m.metadata.sequence.stream
                ids.append(json.loads(m.data)["event_id"])
        await sub.unsubscribe()
        return ids
    finally:
        await nc.close()


def store_event_ids(settings: Settings) -> list[str]:
    """Every domain event id in the store, in store order."""
    app = create_care_app(eventsourcing_env(settings))
    try:
        ids: list[str] = []
        start = 0
        while True:
            notes = app.recorder.select_notifications(start, 1000, inclusive_of_start=False)
            if not notes:
                break
            ids += [event_id(n.originator_id, n.originator_version)
                    for n in notes if is_published(n.topic)]
            start = notes[-1].id
        return ids
    finally:
        app.close()


def ledger_of(settings: Settings, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    app = create_care_app(eventsourcing_env(settings))
    try:
        found = {}
        for source, message_id in keys:
            entry = app.processed(source, message_id)
            if entry is not None:
                found[(source, message_id)] = list(entry.event_ids)
        return found
    finally:
        app.close()


async def reconcile(settings: Settings, cases: list[Case]) -> Reconciliation:
    r = Reconciliation()
    sent = [(m["source_system"], m["message_id"]) for c in cases for m in c.messages]
    r.messages = len(sent)
    ledger = await asyncio.to_thread(ledger_of, settings, sent)
    for case in cases:
        for m in case.messages:
            key = (m["source_system"], m["message_id"])
            receipts = case.receipts.get(m["message_id"], [])
            if key not in ledger or not receipts:
                r.lost += 1
                r.note(f"lost: {key} ({len(receipts)} receipts)")
                continue
            if {tuple(x.event_ids) for x in receipts} != {tuple(ledger[key])}:
                r.receipts_disagreeing += 1
                r.note(f"receipts disagree with the ledger for {key}")

    store_ids = await asyncio.to_thread(store_event_ids, settings)
    accounted = [e for ids in ledger.values() for e in ids]
    r.store_events = len(store_ids)
    r.store_events_unaccounted = len(set(store_ids) - set(accounted))
    missing_in_store = set(accounted) - set(store_ids)
    r.lost += len(missing_in_store)
    if missing_in_store:
        r.note(f"{len(missing_in_store)} ledger events not in the store")

    on_stream = await stream_event_ids(settings)
    r.stream_events = len(on_stream)
    counts = Counter(on_stream)
    r.stream_duplicated = sum(n - 1 for n in counts.values() if n > 1)
    r.stream_missing = len(set(store_ids) - set(counts))
    if r.stream_missing:
        missing = [i for i, e in enumerate(store_ids) if e not in counts][:5]
        r.note(f"{r.stream_missing} stored events never reached the events stream "
               f"(the {missing}th published events of the store, of {len(store_ids)})")

    views = open_view_store(settings)
    try:
        for case in cases:
            plan = await asyncio.to_thread(views.get, care_plan.VIEW, case.client_id)
            expected = [e for m in case.messages if m["message_type"] in REFERRAL_STEPS
                        for e in ledger.get((m["source_system"], m["message_id"]), [])]
            referrals = list((plan or {}).get("referrals", {}).values())
            history = [h["event_id"] for rf in referrals for h in rf["history"]]
            if plan is None or plan.get("client") is None or history != expected:
                r.views_wrong += 1
                r.note(f"view of {case.client_id}: history {len(history)} vs {len(expected)}")
            elif not (referrals[0]["status"] == "completed" and referrals[0]["loop_closed"]):
                r.views_wrong += 1
                r.note(f"view of {case.client_id}: referral {referrals[0]['status']}")
    finally:
        views.close()
    return r
