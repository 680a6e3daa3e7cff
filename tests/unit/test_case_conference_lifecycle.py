"""Given/when/then for every case-conference step and refusal (domain only, no infrastructure).

The story: riverside-cmhc's coordinator convenes the North team's conference, chaired by the
psychiatrist; client ONE agreed to be discussed, client TWO is on the agenda because the
previous conference deferred them and is discussed under a safeguarding exception.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.case_conference import CaseConference, ConferenceStatus
from domain.case_conference_errors import (
    ActionsUnassigned,
    AgendaRequired,
    AgreementAlreadyRecorded,
    AgreementMissing,
    AlreadyAttending,
    AlreadyReviewed,
    ChairNotInvited,
    ConferenceAlreadyExists,
    ConferenceNotFound,
    DetailRequired,
    DissentNotStated,
    DuplicateActionItem,
    DuplicateAddendum,
    DuplicateAgendaItem,
    InvalidConferenceTransition,
    InvitationsRequired,
    ItemConcluded,
    ItemsOutstanding,
    MinutesSignedOff,
    NotChair,
    NotConvener,
    NotOnAgenda,
    NotPresent,
    PreviousActionsUnreviewed,
    PreviousConferenceNotFinalized,
    QuorumNotMet,
    RationaleRequired,
    UnknownActionItem,
    UnknownCode,
)
from domain.errors import DomainError, MissingReason
from domain.provenance import Actor, Provenance
from domain.security import PART2, PSY, SUD

S = ConferenceStatus


def by(person: str, role: str, org: str = "riverside-cmhc") -> Provenance:
    return Provenance(
        actor=Actor(id=person, role=role, organisation=org),
        occurred_at=datetime(2026, 11, 24, 14, 0, tzinfo=UTC),
        source_system="riverside-ehr", message_id=str(uuid.uuid4()), correlation_id="c",
    )


CONVENER = by("co-5001", "coordinator")
CHAIR = by("psy-3307", "psychiatrist")
SOCIAL_WORKER = by("sw-1042", "clinical-social-worker")
HOUSING = by("ha-207", "housing-advocate", "harbor-housing")
BENEFITS = by("ba-88", "benefits-advocate", "riverside-cmhc")
STRANGER = by("x-1", "coordinator", "elsewhere")

ONE, TWO, OTHER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ACTION, PREVIOUS_ACTION = uuid.uuid4(), uuid.uuid4()
WHEN = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


def person(p: Provenance) -> dict[str, str]:
    return {"id": p.actor.id, "role": p.actor.role, "organisation": p.actor.organisation}


INVITED = [person(CHAIR), person(SOCIAL_WORKER), person(HOUSING), person(CONVENER)]


def action(action_id: uuid.UUID | None = None, **changes: Any) -> dict[str, Any]:
    return {"action_item_id": action_id or uuid.uuid4(), "title": "Submit housing application",
            "domain": "housing", "owner": "ha-207", "due": date(2026, 12, 1), **changes}


def minutes(**changes: Any) -> dict[str, Any]:
    """A complete agenda item's minutes; ``changes`` replace parts of it."""
    return {
        "information_shared": [
            {"discipline": "psychiatry", "summary": "Mood improving on sertraline."},
            {"discipline": "housing", "summary": "Eviction hearing in two weeks."},
        ],
        "risk_review": {"level": "moderate", "summary": "Passive self-harm thoughts; plan in place."},
        "decisions": [{"decision": "Prioritise housing", "rationale": "Main driver of risk"}],
        "dissent": "none",
        "action_items": [action(ACTION)],
        **changes,
    }


def discuss(c: CaseConference, client: uuid.UUID, p: Provenance, **changes: Any) -> None:
    m = minutes(**changes)
    c.discuss_item(client, m["information_shared"], m["risk_review"], m["decisions"],
                   m["dissent"], m["action_items"], p)


def drafted() -> CaseConference:
    return CaseConference.draft(uuid.uuid4(), "North team monthly case conference", CONVENER)


def previous_conference() -> CaseConference:
    """Finalized last month: deferred TWO, left one action item about ONE."""
    prev = drafted()
    prev.schedule(person(CHAIR), WHEN, [ONE, TWO], INVITED, CONVENER)
    prev.record_discussion_agreement(ONE, "verbal", "", CONVENER)
    prev.record_discussion_agreement(TWO, "written", "", CONVENER)
    prev.record_attendance([person(SOCIAL_WORKER), person(HOUSING)], CONVENER)
    prev.start_session(CHAIR)
    discuss(prev, ONE, SOCIAL_WORKER, action_items=[action(PREVIOUS_ACTION)])
    prev.defer_item(TWO, "out of time", SOCIAL_WORKER)
    prev.adjourn(CHAIR)
    prev.finalize(CHAIR)
    return prev


STEPS: dict[str, Callable[[CaseConference, Provenance], None]] = {
    "schedule": lambda c, p: c.schedule(person(CHAIR), WHEN, [ONE], INVITED, p,
                                        previous_conference()),
    "agree": lambda c, p: c.record_discussion_agreement(ONE, "verbal", "at check-in", p),
    "safeguarding": lambda c, p: c.record_safeguarding_exception(TWO, "threats reported", p),
    "attend_quorum": lambda c, p: c.record_attendance([person(SOCIAL_WORKER), person(HOUSING)],
                                                      p),
    "attend": lambda c, p: c.record_attendance([person(BENEFITS)], p),
    "start": lambda c, p: c.start_session(p),
    "discuss": lambda c, p: discuss(c, ONE, p),
    "defer": lambda c, p: c.defer_item(ONE, "out of time", p),
    "defer_two": lambda c, p: c.defer_item(TWO, "out of time", p),
    "assign": lambda c, p: c.assign_action_item(ACTION, "ha-207", date(2026, 12, 3), p),
    "adjourn": lambda c, p: c.adjourn(p),
    "review": lambda c, p: c.review_previous_action(PREVIOUS_ACTION, "done", "lodged", p),
    "finalize": lambda c, p: c.finalize(p),
    "addendum": lambda c, p: c.add_addendum(uuid.uuid4(), ONE, "hearing date corrected", p),
    "cancel": lambda c, p: c.cancel("chair unavailable", p),
    "entered_in_error": lambda c, p: c.mark_entered_in_error("drafted twice", p),
}
WHO = {"schedule": CONVENER, "agree": CONVENER, "safeguarding": CONVENER,
       "attend_quorum": CONVENER, "attend": CONVENER, "start": CHAIR, "discuss": SOCIAL_WORKER,
       "defer": SOCIAL_WORKER, "defer_two": SOCIAL_WORKER, "assign": HOUSING, "adjourn": CHAIR,
       "review": SOCIAL_WORKER, "finalize": CHAIR, "addendum": SOCIAL_WORKER,
       "cancel": CONVENER, "entered_in_error": CONVENER}

READY = ["schedule", "agree", "safeguarding", "attend_quorum", "start"]
PATHS: dict[ConferenceStatus, list[str]] = {
    S.DRAFT: [],
    S.SCHEDULED: ["schedule"],
    S.IN_SESSION: READY,
    S.ADJOURNED: [*READY, "discuss", "defer_two", "adjourn"],
    S.FINALIZED: [*READY, "discuss", "defer_two", "adjourn", "review", "finalize"],
    S.CANCELLED: ["cancel"],
    S.ENTERED_IN_ERROR: ["entered_in_error"],
}
PREPARE = {
    ("start", S.SCHEDULED): ["agree", "safeguarding", "attend_quorum"],
    ("assign", S.IN_SESSION): ["discuss"],
    ("adjourn", S.IN_SESSION): ["discuss", "defer_two"],
    ("finalize", S.ADJOURNED): ["review"],
}
"""What a step needs besides the state (e.g. items concluded before adjourning)."""


def run(c: CaseConference, steps: list[str]) -> CaseConference:
    for step in steps:
        STEPS[step](c, WHO[step])
    return c


def conference_in(status: ConferenceStatus) -> CaseConference:
    conference = run(drafted(), PATHS[status])
    assert conference.status is status
    return conference


# (step, from-states where it is allowed, resulting state: None = unchanged)
ALLOWED: list[tuple[str, set[ConferenceStatus], ConferenceStatus | None]] = [
    ("schedule", {S.DRAFT}, S.SCHEDULED),
    ("agree", {S.SCHEDULED}, None),
    ("safeguarding", {S.SCHEDULED}, None),
    ("attend", {S.SCHEDULED, S.IN_SESSION}, None),
    ("start", {S.SCHEDULED}, S.IN_SESSION),
    ("discuss", {S.IN_SESSION}, None),
    ("defer", {S.IN_SESSION}, None),
    ("assign", {S.IN_SESSION, S.ADJOURNED}, None),
    ("adjourn", {S.IN_SESSION}, S.ADJOURNED),
    ("review", {S.IN_SESSION, S.ADJOURNED}, None),
    ("finalize", {S.ADJOURNED}, S.FINALIZED),
    ("addendum", {S.FINALIZED}, None),
    ("cancel", {S.DRAFT, S.SCHEDULED}, S.CANCELLED),
    ("entered_in_error", set(S) - {S.ENTERED_IN_ERROR}, S.ENTERED_IN_ERROR),
]
CASES = [(step, start, start in ok, end) for step, ok, end in ALLOWED for start in PATHS]


@pytest.mark.parametrize(("step", "start", "allowed", "end"), CASES,
                         ids=[f"{c[0]}-from-{c[1].value}" for c in CASES])
def test_each_step_is_allowed_exactly_from_its_states(
        step: str, start: ConferenceStatus, allowed: bool, end: ConferenceStatus | None) -> None:
    conference = conference_in(start)
    if allowed:
        run(conference, PREPARE.get((step, start), []))
    version = conference.version
    if allowed:
        STEPS[step](conference, WHO[step])
        assert conference.status is (end or start)
        assert conference.version == version + 1
    else:
        with pytest.raises(InvalidConferenceTransition) as refused:
            STEPS[step](conference, WHO[step])
        assert refused.value.status == start.value
        assert refused.value.field == "payload.conference_id"
        assert f"'{start.value}'" in str(refused.value)
        assert conference.status is start and conference.version == version


def refused(error: type[DomainError], step: Callable[[], object], field: str) -> DomainError:
    with pytest.raises(error) as caught:
        step()
    assert caught.value.field == field
    return caught.value


# -- draft and schedule -------------------------------------------------------------------------

def test_drafted_conference_is_convened_by_the_drafting_organisation() -> None:
    conference = drafted()
    assert conference.status is S.DRAFT and conference.organisation == "riverside-cmhc"


def test_a_conference_needs_a_title() -> None:
    refused(DetailRequired, lambda: CaseConference.draft(uuid.uuid4(), " ", CONVENER),
            "payload.title")


def test_scheduling_sets_chair_time_agenda_and_invitations() -> None:
    conference = drafted()
    conference.schedule(person(CHAIR), WHEN, [ONE, TWO], INVITED, CONVENER)
    assert conference.status is S.SCHEDULED and conference.scheduled_for == WHEN
    assert conference.chair is not None and conference.chair.id == "psy-3307"
    assert conference.client_ids == [ONE, TWO] and len(conference.invited) == 4


def test_only_the_convening_organisation_schedules() -> None:
    e = refused(NotConvener, lambda: drafted().schedule(person(CHAIR), WHEN, [ONE], INVITED,
                                                        HOUSING), "actor.organisation")
    assert "'draft'" in str(e) and "riverside-cmhc" in str(e)


def test_scheduling_needs_invitations() -> None:
    refused(InvitationsRequired,
            lambda: drafted().schedule(person(CHAIR), WHEN, [ONE], [], CONVENER),
            "payload.invitations")


def test_the_chair_must_be_invited() -> None:
    refused(ChairNotInvited,
            lambda: drafted().schedule(person(CHAIR), WHEN, [ONE], INVITED[1:], CONVENER),
            "payload.chair")


def test_scheduling_needs_at_least_one_client_on_the_agenda() -> None:
    refused(AgendaRequired, lambda: drafted().schedule(person(CHAIR), WHEN, [], INVITED,
                                                       CONVENER), "payload.agenda")


def test_a_client_is_on_the_agenda_once() -> None:
    refused(DuplicateAgendaItem,
            lambda: drafted().schedule(person(CHAIR), WHEN, [ONE, ONE], INVITED, CONVENER),
            "payload.agenda.1")


def test_people_are_named_with_a_known_role() -> None:
    chair = {**person(CHAIR), "role": "astrologer"}
    refused(UnknownCode, lambda: drafted().schedule(chair, WHEN, [ONE], INVITED, CONVENER),
            "payload.chair.role")
    blank = [*INVITED, {"id": " ", "role": "coordinator", "organisation": "o"}]
    refused(DetailRequired, lambda: drafted().schedule(person(CHAIR), WHEN, [ONE], blank,
                                                       CONVENER), "payload.invitations.4.id")


def test_deferred_items_roll_onto_the_next_conference_with_its_actions_to_review() -> None:
    conference = conference_in(S.SCHEDULED)
    assert conference.client_ids == [ONE, TWO]
    assert not conference.agenda[ONE].carried_over and conference.agenda[TWO].carried_over
    assert list(conference.previous_actions) == [PREVIOUS_ACTION]


def test_an_agenda_of_only_carried_over_items_is_enough() -> None:
    conference = drafted()
    conference.schedule(person(CHAIR), WHEN, [], INVITED, CONVENER, previous_conference())
    assert conference.client_ids == [TWO]


def test_deferred_items_of_discharged_clients_do_not_roll_over() -> None:
    conference = drafted()
    conference.schedule(person(CHAIR), WHEN, [ONE], INVITED, CONVENER, previous_conference(),
                        discharged={TWO})
    assert conference.client_ids == [ONE]


def test_only_a_finalized_conference_hands_over_to_the_next() -> None:
    previous = conference_in(S.ADJOURNED)
    refused(PreviousConferenceNotFinalized,
            lambda: drafted().schedule(person(CHAIR), WHEN, [ONE], INVITED, CONVENER, previous),
            "payload.previous_conference_id")


# -- before the session: attendance and agreement ---------------------------------------------

def test_attendance_needs_someone_and_counts_each_person_once() -> None:
    conference = conference_in(S.SCHEDULED)
    refused(DetailRequired, lambda: conference.record_attendance([], CONVENER),
            "payload.attendees")
    conference.record_attendance([person(SOCIAL_WORKER)], CONVENER)
    refused(AlreadyAttending,
            lambda: conference.record_attendance([person(HOUSING), person(SOCIAL_WORKER)],
                                                 CONVENER), "payload.attendees.1")
    refused(AlreadyAttending,
            lambda: conference.record_attendance([person(HOUSING), person(HOUSING)], CONVENER),
            "payload.attendees.1")


def test_only_the_convener_records_attendance() -> None:
    refused(NotConvener, lambda: conference_in(S.SCHEDULED).record_attendance(
        [person(HOUSING)], HOUSING), "actor.organisation")


def test_agreement_is_recorded_once_per_agenda_client() -> None:
    conference = conference_in(S.SCHEDULED)
    conference.record_discussion_agreement(ONE, "written", "", CONVENER)
    assert conference.agenda[ONE].agreement == "agreed"
    refused(AgreementAlreadyRecorded,
            lambda: conference.record_safeguarding_exception(ONE, "risk", CONVENER),
            "payload.client_id")


def test_agreement_concerns_a_client_on_the_agenda() -> None:
    refused(NotOnAgenda, lambda: conference_in(S.SCHEDULED).record_discussion_agreement(
        OTHER, "verbal", "", CONVENER), "payload.client_id")


def test_agreement_method_must_be_known() -> None:
    refused(UnknownCode, lambda: conference_in(S.SCHEDULED).record_discussion_agreement(
        ONE, "telepathy", "", CONVENER), "payload.method")


def test_a_safeguarding_exception_documents_its_reason() -> None:
    refused(MissingReason, lambda: conference_in(S.SCHEDULED).record_safeguarding_exception(
        TWO, "  ", CONVENER), "payload.reason")


# -- scheduled → in-session -------------------------------------------------------------------

def ready_but(skip: str) -> CaseConference:
    return run(conference_in(S.SCHEDULED), [s for s in READY[1:-1] if s != skip])


def test_only_the_chair_opens_the_session() -> None:
    refused(NotChair, lambda: ready_but("").start_session(CONVENER), "actor.id")


def test_every_agenda_client_needs_agreement_or_a_safeguarding_exception() -> None:
    e = refused(AgreementMissing, lambda: ready_but("safeguarding").start_session(CHAIR),
                "payload.conference_id")
    assert str(TWO) in str(e) and "'scheduled'" in str(e)


def test_no_quorum_without_other_disciplines_present() -> None:
    conference = ready_but("attend_quorum")
    conference.record_attendance([person(SOCIAL_WORKER)], CONVENER)
    e = refused(QuorumNotMet, lambda: conference.start_session(CHAIR), "payload.conference_id")
    assert "clinical-social-work, psychiatry" in str(e)


def test_no_quorum_without_a_psychiatrist() -> None:
    conference = drafted()
    chair = person(SOCIAL_WORKER)
    conference.schedule(chair, WHEN, [ONE], [chair, person(HOUSING)], CONVENER)
    conference.record_discussion_agreement(ONE, "verbal", "", CONVENER)
    conference.record_attendance([person(HOUSING), person(CONVENER), person(BENEFITS)], CONVENER)
    refused(QuorumNotMet, lambda: conference.start_session(SOCIAL_WORKER), "payload.conference_id")


def test_a_psychiatrist_and_two_other_disciplines_make_a_quorum() -> None:
    conference = ready_but("attend_quorum")
    conference.record_attendance([person(HOUSING), person(BENEFITS)], CONVENER)
    conference.start_session(CHAIR)
    started = conference.collect_events()[-1]
    assert started.disciplines_present == ["benefits", "housing", "psychiatry"]  # type: ignore[attr-defined]


# -- in session: minutes per agenda item --------------------------------------------------------

def test_a_discussed_item_records_minutes_and_its_action_items() -> None:
    conference = conference_in(S.IN_SESSION)
    discuss(conference, ONE, SOCIAL_WORKER)
    assert conference.agenda[ONE].outcome == "discussed"
    assert conference.action_items[ACTION].owner == "ha-207"


def test_minutes_are_taken_by_someone_present() -> None:
    conference = conference_in(S.IN_SESSION)
    refused(NotPresent, lambda: discuss(conference, ONE, BENEFITS), "actor.id")
    refused(NotPresent, lambda: discuss(conference, ONE, STRANGER), "actor.id")


def test_minutes_concern_a_client_on_the_agenda() -> None:
    refused(NotOnAgenda, lambda: discuss(conference_in(S.IN_SESSION), OTHER, SOCIAL_WORKER),
            "payload.client_id")


@pytest.mark.parametrize("first", ["discuss", "defer"])
def test_an_item_is_discussed_or_deferred_once(first: str) -> None:
    conference = run(conference_in(S.IN_SESSION), [first])
    refused(ItemConcluded, lambda: STEPS["discuss"](conference, SOCIAL_WORKER), "payload.client_id")
    refused(ItemConcluded, lambda: STEPS["defer"](conference, SOCIAL_WORKER), "payload.client_id")


INCOMPLETE_MINUTES: list[tuple[str, dict[str, Any], type[DomainError], str]] = [
    ("no_information", {"information_shared": []}, DetailRequired, "payload.information_shared"),
    ("unknown_discipline", {"information_shared": [{"discipline": "x", "summary": "s"}]},
     UnknownCode, "payload.information_shared.0.discipline"),
    ("blank_summary", {"information_shared": [{"discipline": "housing", "summary": ""}]},
     DetailRequired, "payload.information_shared.0.summary"),
    ("unknown_topic", {"information_shared": [
        {"discipline": "housing", "summary": "s", "sensitive_topic": "gossip"}]},
     UnknownCode, "payload.information_shared.0.sensitive_topic"),
    ("unknown_risk_level", {"risk_review": {"level": "meh", "summary": "s"}}, UnknownCode,
     "payload.risk_review.level"),
    ("blank_risk_review", {"risk_review": {"level": "low", "summary": " "}}, DetailRequired,
     "payload.risk_review.summary"),
    ("no_decision", {"decisions": []}, DetailRequired, "payload.decisions"),
    ("blank_decision", {"decisions": [{"decision": "", "rationale": "r"}]}, DetailRequired,
     "payload.decisions.0.decision"),
    ("decision_without_rationale", {"decisions": [{"decision": "d", "rationale": " "}]},
     RationaleRequired, "payload.decisions.0.rationale"),
    ("dissent_left_empty", {"dissent": []}, DissentNotStated, "payload.dissent"),
    ("dissent_left_blank", {"dissent": ""}, DissentNotStated, "payload.dissent"),
    ("dissent_in_words_not_none", {"dissent": "nobody"}, DissentNotStated, "payload.dissent"),
    ("dissent_without_view", {"dissent": [{"discipline": "housing", "view": ""}]},
     DetailRequired, "payload.dissent.0.view"),
    ("dissent_by_unknown_discipline", {"dissent": [{"discipline": "x", "view": "v"}]},
     UnknownCode, "payload.dissent.0.discipline"),
    ("action_id_twice", {"action_items": [action(ACTION), action(ACTION)]},
     DuplicateActionItem, "payload.action_items.1.action_item_id"),
    ("action_without_title", {"action_items": [action(title=" ")]}, DetailRequired,
     "payload.action_items.0.title"),
    ("action_in_unknown_domain", {"action_items": [action(domain="fun")]}, UnknownCode,
     "payload.action_items.0.domain"),
    ("action_with_blank_owner", {"action_items": [action(owner="")]}, DetailRequired,
     "payload.action_items.0.owner"),
    ("action_due_not_a_date", {"action_items": [action(due="soon")]}, DetailRequired,
     "payload.action_items.0.due"),
]


@pytest.mark.parametrize(("changes", "error", "field"), [c[1:] for c in INCOMPLETE_MINUTES],
                         ids=[c[0] for c in INCOMPLETE_MINUTES])
def test_incomplete_minutes_are_refused_naming_the_field(
        changes: dict[str, Any], error: type[DomainError], field: str) -> None:
    conference = conference_in(S.IN_SESSION)
    version = conference.version
    e = refused(error, lambda: discuss(conference, ONE, SOCIAL_WORKER, **changes), field)
    assert "'in-session'" in str(e)
    assert conference.version == version and conference.agenda[ONE].outcome == "pending"


def test_an_action_item_id_is_never_reused_within_a_conference() -> None:
    conference = run(conference_in(S.IN_SESSION), ["discuss"])
    refused(DuplicateActionItem, lambda: discuss(conference, TWO, SOCIAL_WORKER),
            "payload.action_items.0.action_item_id")


def test_a_deferral_gives_its_reason() -> None:
    refused(MissingReason, lambda: conference_in(S.IN_SESSION).defer_item(ONE, "", SOCIAL_WORKER),
            "payload.reason")


def test_information_is_labelled_by_who_shared_it_and_the_risk_review_is_psychiatric() -> None:
    conference = conference_in(S.IN_SESSION)
    discuss(conference, ONE, SOCIAL_WORKER, information_shared=[
        {"discipline": "psychiatry", "summary": "on sertraline"},
        {"discipline": "housing", "summary": "hearing soon"},
        {"discipline": "clinical-social-work", "summary": "drinking more",
         "sensitive_topic": "substance-use"}])
    event = conference.collect_events()[-1]
    shared = event.information_shared  # type: ignore[attr-defined]
    assert shared[0]["security"]["sensitivity"] == [PSY]
    assert shared[1]["security"] == {"confidentiality": "N", "sensitivity": [], "law": []}
    assert SUD in shared[2]["security"]["sensitivity"] and shared[2]["security"]["law"] == [PART2]
    assert event.risk_review["security"]["sensitivity"] == [PSY]  # type: ignore[attr-defined]
    assert event.security["confidentiality"] == "R"  # type: ignore[attr-defined]
    assert set(event.security["sensitivity"]) >= {PSY, SUD}  # type: ignore[attr-defined]


# -- action items, adjournment, review, sign-off ----------------------------------------------

def test_an_action_item_gets_an_owner_and_due_date_later() -> None:
    conference = conference_in(S.IN_SESSION)
    discuss(conference, ONE, SOCIAL_WORKER, action_items=[action(ACTION, owner=None, due=None)])
    conference.assign_action_item(ACTION, "ha-207", date(2026, 12, 9), HOUSING)
    assert conference.action_items[ACTION].assigned


def test_only_known_action_items_are_assigned_and_to_someone() -> None:
    conference = run(conference_in(S.IN_SESSION), ["discuss"])
    refused(UnknownActionItem, lambda: conference.assign_action_item(
        OTHER, "ha-207", date(2026, 12, 1), HOUSING), "payload.action_item_id")
    refused(DetailRequired, lambda: conference.assign_action_item(
        ACTION, " ", date(2026, 12, 1), HOUSING), "payload.owner")
    refused(NotPresent, lambda: conference.assign_action_item(
        ACTION, "ba-88", date(2026, 12, 1), BENEFITS), "actor.id")


def test_adjourning_needs_every_item_discussed_or_deferred() -> None:
    conference = run(conference_in(S.IN_SESSION), ["discuss"])
    e = refused(ItemsOutstanding, lambda: conference.adjourn(CHAIR), "payload.conference_id")
    assert str(TWO) in str(e)


def test_only_the_chair_adjourns() -> None:
    conference = run(conference_in(S.IN_SESSION), ["discuss", "defer_two"])
    refused(NotChair, lambda: conference.adjourn(SOCIAL_WORKER), "actor.id")


def test_previous_actions_are_reviewed_once_each_with_a_known_outcome() -> None:
    conference = conference_in(S.ADJOURNED)
    refused(UnknownActionItem, lambda: conference.review_previous_action(
        ACTION, "done", "", SOCIAL_WORKER), "payload.action_item_id")
    refused(UnknownCode, lambda: conference.review_previous_action(
        PREVIOUS_ACTION, "forgotten", "", SOCIAL_WORKER), "payload.outcome")
    conference.review_previous_action(PREVIOUS_ACTION, "in-progress", "", SOCIAL_WORKER)
    refused(AlreadyReviewed, lambda: conference.review_previous_action(
        PREVIOUS_ACTION, "done", "", SOCIAL_WORKER), "payload.action_item_id")


@pytest.mark.parametrize("who", [CONVENER, SOCIAL_WORKER, STRANGER,
                                 by("psy-3307", "psychiatrist", "elsewhere")],
                         ids=["convener", "attendee", "stranger", "same-id-other-organisation"])
def test_only_the_chair_signs_off(who: Provenance) -> None:
    conference = run(conference_in(S.ADJOURNED), ["review"])
    refused(NotChair, lambda: conference.finalize(who), "actor.id")


def test_sign_off_needs_every_action_item_owned_and_dated() -> None:
    conference = conference_in(S.IN_SESSION)
    discuss(conference, ONE, SOCIAL_WORKER, action_items=[action(ACTION, due=None)])
    run(conference, ["defer_two", "adjourn", "review"])
    e = refused(ActionsUnassigned, lambda: conference.finalize(CHAIR), "payload.conference_id")
    assert str(ACTION) in str(e) and "'adjourned'" in str(e)


def test_sign_off_needs_the_previous_conference_actions_reviewed() -> None:
    refused(PreviousActionsUnreviewed, lambda: conference_in(S.ADJOURNED).finalize(CHAIR),
            "payload.conference_id")


def test_each_action_item_becomes_a_stable_care_plan_task() -> None:
    conference = conference_in(S.FINALIZED)
    (task,) = conference.tasks()
    assert task["task_id"] == uuid.uuid5(conference.id, str(ACTION))
    assert (task["client_id"], task["owner"], task["domain"]) == (ONE, "ha-207", "housing")
    finalized = conference.collect_events()[-1]
    assert finalized.tasks == [task]  # type: ignore[attr-defined]


# -- after sign-off: addenda only -----------------------------------------------------------

@pytest.mark.parametrize("step", ["discuss", "defer", "assign", "adjourn", "review", "finalize"])
def test_signed_off_minutes_never_change(step: str) -> None:
    conference = conference_in(S.FINALIZED)
    e = refused(MinutesSignedOff, lambda: STEPS[step](conference, WHO[step]),
                "payload.conference_id")
    assert "addendum" in str(e)


def test_corrections_are_addenda_after_sign_off() -> None:
    conference = conference_in(S.FINALIZED)
    addendum = uuid.uuid4()
    conference.add_addendum(addendum, None, "attendance: BA sent apologies", SOCIAL_WORKER)
    assert conference.addenda == [addendum]
    refused(DuplicateAddendum, lambda: conference.add_addendum(
        addendum, None, "again", SOCIAL_WORKER), "payload.addendum_id")
    refused(NotOnAgenda, lambda: conference.add_addendum(
        uuid.uuid4(), OTHER, "who?", SOCIAL_WORKER), "payload.client_id")
    refused(DetailRequired, lambda: conference.add_addendum(
        uuid.uuid4(), ONE, " ", SOCIAL_WORKER), "payload.text")
    refused(NotPresent, lambda: conference.add_addendum(
        uuid.uuid4(), ONE, "meddling", STRANGER), "actor.id")


def test_an_addendum_by_the_psychiatrist_is_labelled_psychiatric() -> None:
    conference = conference_in(S.FINALIZED)
    conference.add_addendum(uuid.uuid4(), ONE, "dose was 100mg", CHAIR)
    event = conference.collect_events()[-1]
    assert event.security["sensitivity"] == [PSY]  # type: ignore[attr-defined]
    assert event.client_ids == [ONE] and event.client_id == ONE  # type: ignore[attr-defined]


# -- ending early ---------------------------------------------------------------------------

@pytest.mark.parametrize("step", ["cancel", "entered_in_error"])
def test_ending_a_conference_needs_a_reason_and_the_convener(step: str) -> None:
    conference = conference_in(S.SCHEDULED)
    call = {"cancel": conference.cancel, "entered_in_error": conference.mark_entered_in_error}[step]
    refused(MissingReason, lambda: call(" ", CONVENER), "payload.reason")
    refused(NotConvener, lambda: call("not mine", HOUSING), "actor.organisation")


# -- what the events say ---------------------------------------------------------------------

CONFERENCE_WIDE = {"Scheduled", "AttendanceRecorded", "SessionStarted", "Adjourned", "Finalized",
                   "AddendumAdded"}


def test_events_name_the_clients_whose_care_plans_they_change() -> None:
    conference = run(conference_in(S.FINALIZED), ["addendum"])
    for e in conference.collect_events()[1:]:
        name = type(e).__qualname__.split(".")[1]
        if name in CONFERENCE_WIDE:
            assert set(e.client_ids) <= {ONE, TWO} and e.client_ids, name  # type: ignore[attr-defined]
        else:
            assert e.client_id in {ONE, TWO}, name  # type: ignore[attr-defined]
    for status in (S.CANCELLED, S.ENTERED_IN_ERROR):
        ended = run(conference_in(S.SCHEDULED), [PATHS[status][0]]).collect_events()[-1]
        assert ended.client_ids == [ONE, TWO]  # type: ignore[attr-defined]


def test_events_record_actor_and_business_time() -> None:
    started = conference_in(S.IN_SESSION).collect_events()[-1]
    assert type(started).__qualname__ == "CaseConference.SessionStarted"
    assert started.provenance.actor.id == "psy-3307"  # type: ignore[attr-defined]
    assert started.provenance.occurred_at == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # type: ignore[attr-defined]


def test_stored_and_reloaded_conference_is_the_same() -> None:
    """Events hold only what the event store can write: a full round trip loses nothing."""
    from services.store.care_app import CareLoop

    app = CareLoop(env={})
    conference = run(conference_in(S.FINALIZED), ["addendum"])
    app.save(conference)
    reloaded: CaseConference = app.repository.get(conference.id)
    assert vars(reloaded) == vars(conference)


# -- through the command handlers (in-memory store) ------------------------------------------

def post(app: Any, message_type: str, actor: Provenance = CONVENER, **payload: Any) -> list[Any]:
    """Validate the example of ``message_type`` with ``payload`` changes, handle, save."""
    from contracts.v1.conference_messages import MESSAGE_TYPES
    from services.commands.conference import HANDLERS
    from tests.helpers import message

    doc = {**message(message_type, **payload), "actor": person(actor)}
    msg = MESSAGE_TYPES[message_type].model_validate_json(json.dumps(doc, default=str))
    p = Provenance(actor=actor.actor, occurred_at=msg.occurred_at, source_system="riverside-ehr",
                   message_id=msg.message_id, correlation_id=msg.correlation_id)
    changed = HANDLERS[message_type](app, msg, p)
    app.save(*changed)
    return changed


def registered(*clients: uuid.UUID) -> Any:
    from domain.client import Client
    from services.store.care_app import CareLoop

    app = CareLoop(env={})
    for client in clients:
        app.save(Client.register(client, "Ada", "Lovelace", date(1990, 1, 1), None, CONVENER))
    return app


def convene(app: Any, conference: uuid.UUID, clients: list[uuid.UUID],
            previous: uuid.UUID | None = None) -> None:
    post(app, "conference.drafted", conference_id=conference)
    post(app, "conference.scheduled", conference_id=conference, agenda=clients,
         invitations=INVITED, previous_conference_id=previous)
    for client in app.repository.get(conference).client_ids:
        post(app, "conference.discussion_agreed", conference_id=conference, client_id=client)
    post(app, "conference.attendance_recorded", conference_id=conference,
         attendees=[person(SOCIAL_WORKER), person(HOUSING)])
    post(app, "conference.session_started", CHAIR, conference_id=conference)


def minuted(app: Any, conference: uuid.UUID, client: uuid.UUID, *actions: uuid.UUID) -> None:
    items = [{"action_item_id": str(a), "title": f"Action {a}", "domain": "housing",
              "owner": "ha-207", "due": "2026-12-01"} for a in actions]
    post(app, "conference.item_discussed", SOCIAL_WORKER, conference_id=conference,
         client_id=client, action_items=items)


def test_sign_off_puts_every_action_item_on_its_clients_care_plan_in_one_save() -> None:
    from domain.care_plan import CarePlan

    app, conference = registered(ONE, TWO), uuid.uuid4()
    convene(app, conference, [ONE, TWO])
    a1, a2, a3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    minuted(app, conference, ONE, a1, a2)
    minuted(app, conference, TWO, a3)
    post(app, "conference.adjourned", CHAIR, conference_id=conference)
    changed = post(app, "conference.finalized", CHAIR, conference_id=conference)
    assert [type(a).__name__ for a in changed] == ["CaseConference", "CarePlan", "CarePlan"]
    plan = app.repository.get(CarePlan.id_for(ONE))
    tasks = plan.items.tasks
    assert set(tasks) == {uuid.uuid5(conference, str(a1)), uuid.uuid5(conference, str(a2))}
    task = tasks[uuid.uuid5(conference, str(a1))]
    assert (task.owner, task.due, task.domain, task.source) == (
        "ha-207", date(2026, 12, 1), "housing", f"conference:{conference}")
    assert len(app.repository.get(CarePlan.id_for(TWO)).items.tasks) == 1


def test_agenda_clients_must_be_registered_and_not_discharged() -> None:
    from domain.client import Client
    from domain.errors import ClientDischarged, ClientNotRegistered

    app, conference = registered(ONE), uuid.uuid4()
    post(app, "conference.drafted", conference_id=conference)
    with pytest.raises(ClientNotRegistered) as caught:
        post(app, "conference.scheduled", conference_id=conference, agenda=[ONE, TWO])
    assert caught.value.field == "payload.agenda.1"
    client = app.repository.get(ONE)
    assert isinstance(client, Client)
    client.discharge("moved away", date(2026, 11, 20), CONVENER)
    app.save(client)
    with pytest.raises(ClientDischarged):
        post(app, "conference.scheduled", conference_id=conference, agenda=[ONE])


def test_the_next_conference_takes_over_deferred_items_but_not_of_discharged_clients() -> None:
    app, first, second, third = registered(ONE, TWO, OTHER), *(uuid.uuid4() for _ in range(3))
    convene(app, first, [ONE, TWO, OTHER])
    minuted(app, first, ONE)
    for client in (TWO, OTHER):
        post(app, "conference.item_deferred", SOCIAL_WORKER, conference_id=first,
             client_id=client)
    post(app, "conference.adjourned", CHAIR, conference_id=first)
    post(app, "conference.finalized", CHAIR, conference_id=first)
    other = app.repository.get(OTHER)
    other.discharge("moved away", date(2026, 11, 25), CONVENER)
    app.save(other)
    post(app, "conference.drafted", conference_id=second)
    post(app, "conference.scheduled", conference_id=second, agenda=[ONE],
         previous_conference_id=first)
    assert app.repository.get(second).client_ids == [ONE, TWO]
    post(app, "conference.drafted", conference_id=third)
    with pytest.raises(ConferenceNotFound) as caught:
        post(app, "conference.scheduled", conference_id=third, agenda=[ONE],
             previous_conference_id=OTHER)
    assert caught.value.field == "payload.previous_conference_id"


def test_a_conference_id_is_used_once_and_steps_need_an_existing_conference() -> None:
    app, conference = registered(ONE), uuid.uuid4()
    post(app, "conference.drafted", conference_id=conference)
    with pytest.raises(ConferenceAlreadyExists):
        post(app, "conference.drafted", conference_id=conference)
    with pytest.raises(ConferenceNotFound) as caught:
        post(app, "conference.session_started", CHAIR, conference_id=uuid.uuid4())
    assert caught.value.field == "payload.conference_id"


def test_withdrawing_signed_off_minutes_cancels_the_open_tasks_they_created() -> None:
    from domain.care_plan import CarePlan

    app, conference = registered(ONE, TWO), uuid.uuid4()
    done, still_open = uuid.uuid4(), uuid.uuid4()
    convene(app, conference, [ONE, TWO])
    minuted(app, conference, ONE, done, still_open)
    post(app, "conference.item_deferred", SOCIAL_WORKER, conference_id=conference, client_id=TWO)
    post(app, "conference.adjourned", CHAIR, conference_id=conference)
    post(app, "conference.finalized", CHAIR, conference_id=conference)
    plan = app.repository.get(CarePlan.id_for(ONE))
    plan.complete_task(uuid.uuid5(conference, str(done)), "sent", HOUSING)
    app.save(plan)
    post(app, "conference.entered_in_error", conference_id=conference, reason="wrong team")
    tasks = app.repository.get(CarePlan.id_for(ONE)).items.tasks
    assert tasks[uuid.uuid5(conference, str(done))].status == "completed"
    assert tasks[uuid.uuid5(conference, str(still_open))].status == "cancelled"
