"""Properties of the case-conference state machine under random commands from random people.

(a) Whatever is sent, by whoever, the conference stays in the machine: an accepted command
    moves it along an allowed transition (or keeps its state) by exactly one event, and a
    refused one changes nothing at all. (b) Replaying its events, in memory or through the
    event store's encoding, rebuilds the very same conference.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case_conference import CaseConference, ConferenceStatus
from domain.errors import DomainError
from domain.provenance import Provenance
from services.store.care_app import CareLoop
from tests.unit.test_case_conference_lifecycle import (
    BENEFITS,
    CHAIR,
    CONVENER,
    HOUSING,
    INVITED,
    ONE,
    OTHER,
    PATHS,
    PREVIOUS_ACTION,
    SOCIAL_WORKER,
    STRANGER,
    TWO,
    WHEN,
    WHO,
    action,
    conference_in,
    discuss,
    person,
    previous_conference,
)

S = ConferenceStatus

TRANSITIONS = {
    (S.DRAFT, S.SCHEDULED), (S.SCHEDULED, S.IN_SESSION), (S.IN_SESSION, S.ADJOURNED),
    (S.ADJOURNED, S.FINALIZED), (S.DRAFT, S.CANCELLED), (S.SCHEDULED, S.CANCELLED),
    *((s, S.ENTERED_IN_ERROR) for s in S if s is not S.ENTERED_IN_ERROR),
    *((s, s) for s in (S.SCHEDULED, S.IN_SESSION, S.ADJOURNED, S.FINALIZED)),
}
"""Every (before, after) an accepted command may produce; staying put only while it is open
to attendance, minutes, reviews or addenda."""

ACTORS = [CONVENER, CHAIR, SOCIAL_WORKER, HOUSING, BENEFITS, STRANGER]
CLIENTS = [ONE, TWO, OTHER]
ACTION_IDS = [uuid.UUID(int=1), uuid.UUID(int=2)]
ADDENDUM_IDS = [uuid.UUID(int=3), uuid.UUID(int=4)]

Command = tuple[str, Provenance | None, uuid.UUID, bool, int]
"""(what, by whom (None: the person whose step it is), about which client, a well-formed
variant?, a small pick)."""

DO: dict[str, Callable[[CaseConference, Provenance, uuid.UUID, bool, int], None]] = {
    "schedule": lambda c, p, client, ok, n: c.schedule(
        person(CHAIR), WHEN, [client] if ok else [], INVITED[1:] if n == 5 else INVITED, p,
        previous_conference() if n % 3 == 0 else None),
    "agree": lambda c, p, client, ok, n: c.record_discussion_agreement(
        client, "verbal" if ok else "nodded", "", p),
    "safeguarding": lambda c, p, client, ok, n: c.record_safeguarding_exception(
        client, "risk to others" if ok else " ", p),
    "attend": lambda c, p, client, ok, n: c.record_attendance(
        [person(ACTORS[n % len(ACTORS)])] if ok else [], p),
    "start": lambda c, p, client, ok, n: c.start_session(p),
    "discuss": lambda c, p, client, ok, n: discuss(
        c, client, p, decisions=[{"decision": "d", "rationale": "r" if ok else ""}],
        action_items=[action(ACTION_IDS[n % 2], owner=None if n % 3 else "ha-207")]),
    "defer": lambda c, p, client, ok, n: c.defer_item(client, "no time" if ok else "", p),
    "assign": lambda c, p, client, ok, n: c.assign_action_item(
        ACTION_IDS[n % 2], "ha-207" if ok else "", date(2026, 12, 1), p),
    "adjourn": lambda c, p, client, ok, n: c.adjourn(p),
    "review": lambda c, p, client, ok, n: c.review_previous_action(
        PREVIOUS_ACTION if ok else ACTION_IDS[0], "done" if n % 2 else "not-done", "", p),
    "finalize": lambda c, p, client, ok, n: c.finalize(p),
    "addendum": lambda c, p, client, ok, n: c.add_addendum(
        ADDENDUM_IDS[n % 2], client if n % 3 else None, "correction" if ok else "", p),
    "cancel": lambda c, p, client, ok, n: c.cancel("no quorum" if ok else "", p),
    "entered_in_error": lambda c, p, client, ok, n: c.mark_entered_in_error(
        "wrong team" if ok else "", p),
}

LIKELY: dict[ConferenceStatus, list[str]] = {
    S.DRAFT: ["schedule"],
    S.SCHEDULED: ["agree", "safeguarding", "attend", "start"],
    S.IN_SESSION: ["discuss", "defer", "assign", "review", "attend", "adjourn"],
    S.ADJOURNED: ["assign", "review", "finalize"],
    S.FINALIZED: ["addendum"],
    S.CANCELLED: sorted(DO),
    S.ENTERED_IN_ERROR: sorted(DO),
}
"""Steps the current state may accept: drawn half the time, so sequences get somewhere."""


@st.composite
def command(draw: st.DrawFn, status: ConferenceStatus) -> Command:
    names = st.sampled_from(LIKELY[status]) if draw(st.booleans()) else st.sampled_from(sorted(DO))
    return (draw(names), draw(st.one_of(st.none(), st.sampled_from(ACTORS))),
            draw(st.sampled_from(CLIENTS)), draw(st.sampled_from([True, True, True, False])),
            draw(st.integers(0, 5)))


PROPERTY_SETTINGS = settings(max_examples=100, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


def snapshot(c: CaseConference) -> tuple[dict[str, Any], int]:
    state = {k: copy.deepcopy(v) for k, v in vars(c).items() if k != "_pending_events"}
    return state, len(c.pending_events)


def check_invariants(c: CaseConference) -> None:
    assert isinstance(c.status, ConferenceStatus)
    if c.status in (S.ADJOURNED, S.FINALIZED):
        assert all(item.outcome != "pending" for item in c.agenda.values())
        assert all(item.agreement is not None for item in c.agenda.values())
    if c.status is S.FINALIZED:
        assert all(a.assigned for a in c.action_items.values())
        assert all(prev.review is not None for prev in c.previous_actions.values())
    if c.status is not S.DRAFT and c.chair is not None:
        assert c.chair in c.invited


def drive(data: st.DataObject) -> CaseConference:
    """A conference in a random state, then random commands; checks every step as it goes."""
    conference = conference_in(data.draw(st.sampled_from(list(PATHS)), label="start"))
    for _ in range(data.draw(st.integers(0, 40), label="steps")):
        name, who, client, ok, n = data.draw(command(conference.status))
        before, version, status = snapshot(conference), conference.version, conference.status
        try:
            DO[name](conference, who or WHO[name], client, ok, n)
        except DomainError:
            assert conference.version == version
            assert snapshot(conference) == before, f"refused {name} changed the conference"
        else:
            assert conference.version == version + 1
            assert (status, conference.status) in TRANSITIONS, (name, status, conference.status)
        check_invariants(conference)
    return conference


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_commands_never_leave_the_machine_and_refusals_change_nothing(
        data: st.DataObject) -> None:
    drive(data)


STORE = CareLoop(env={})


@PROPERTY_SETTINGS
@given(data=st.data())
def test_replaying_the_events_rebuilds_the_same_conference(data: st.DataObject) -> None:
    conference = drive(data)
    events = conference.collect_events()
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert vars(rebuilt) == vars(conference)

    stored = None  # the same through the event store's encoding: only primitives survive it
    for e in events:
        decoded: Any = STORE.mapper.to_domain_event(STORE.mapper.to_stored_event(e))
        stored = decoded.mutate(stored)
    assert vars(stored) == vars(conference)
