"""Case conferences on the care plan: each client's plan shows their own agenda item only.

The events are the real public ones: domain events of a conference, turned into outbound
events the way the relay does and through JSON, as the projector receives them.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from typing import Any

from domain.case_conference import CaseConference, ConferenceStatus
from projections import care_plan_conferences as view
from services.relay.outbound_events import to_outbound
from tests.unit.test_case_conference_lifecycle import (
    ACTION,
    CHAIR,
    HOUSING,
    ONE,
    PREVIOUS_ACTION,
    SOCIAL_WORKER,
    TWO,
    conference_in,
    run,
)

S = ConferenceStatus
Doc = dict[str, Any]


def published(conference: CaseConference) -> list[Doc]:
    events = conference.collect_events()
    return [json.loads(to_outbound(e, i, lambda _: None).model_dump_json())
            for i, e in enumerate(events, start=1)]


def fold(events: list[Doc], plans: dict[str, Doc] | None = None) -> dict[str, Doc]:
    """Route each event to the plans it concerns, as the projector does."""
    plans = {} if plans is None else plans
    for e in events:
        for client in view.concerns(e):
            view.apply(plans.setdefault(client, {"client_id": client}), e)
    return plans


def entry(plans: dict[str, Doc], client: uuid.UUID, conference: CaseConference) -> Doc:
    return plans[str(client)]["conferences"][str(conference.id)]  # type: ignore[no-any-return]


def test_each_agenda_client_sees_the_conference_with_only_their_own_item() -> None:
    conference = conference_in(S.FINALIZED)
    plans = fold(published(conference))
    one, two = entry(plans, ONE, conference), entry(plans, TWO, conference)
    assert one["status"] == two["status"] == "finalized"
    item = one["agenda_item"]
    assert (item["client_id"], item["outcome"], item["dissent"]) == (str(ONE), "discussed", "none")
    assert item["decisions"] == [{"decision": "Prioritise housing",
                                  "rationale": "Main driver of risk"}]
    assert two["agenda_item"]["outcome"] == "deferred"
    assert two["agenda_item"]["deferral_reason"] == "out of time"
    assert "Prioritise housing" not in json.dumps(plans[str(TWO)])


def test_the_entry_shows_title_time_chair_people_and_sign_off() -> None:
    conference = conference_in(S.FINALIZED)
    one = entry(fold(published(conference)), ONE, conference)
    assert one["title"] == "North team monthly case conference"
    assert one["scheduled_for"] == "2026-11-24T19:00:00Z"
    assert one["chair"]["id"] == "psy-3307"
    assert {a["id"] for a in one["attendees"]} == {"sw-1042", "ha-207"}
    assert one["disciplines_present"] == ["clinical-social-work", "housing", "psychiatry"]
    assert one["signed_off_by"]["id"] == "psy-3307" and one["signed_off_at"]


def test_action_items_show_owner_due_date_and_the_task_they_became() -> None:
    conference = conference_in(S.IN_SESSION)
    run(conference, ["discuss", "defer_two", "adjourn"])
    conference.assign_action_item(ACTION, "ha-300", date(2026, 12, 9), HOUSING)
    run(conference, ["review", "finalize"])
    action = entry(fold(published(conference)), ONE, conference)["agenda_item"]["action_items"]
    assert action[str(ACTION)]["owner"] == "ha-300"
    assert action[str(ACTION)]["due"] == "2026-12-09"
    assert action[str(ACTION)]["task_id"] == str(conference.task_id_for(ACTION))


def test_agreement_carried_over_items_and_previous_reviews_are_shown() -> None:
    conference = conference_in(S.FINALIZED)
    plans = fold(published(conference))
    one, two = entry(plans, ONE, conference), entry(plans, TWO, conference)
    assert one["agenda_item"]["agreement"]["kind"] == "agreed"
    assert two["agenda_item"]["agreement"]["kind"] == "safeguarding-exception"
    assert two["agenda_item"]["carried_over"] and not one["agenda_item"]["carried_over"]
    assert one["previous_actions_reviewed"][str(PREVIOUS_ACTION)]["outcome"] == "done"
    assert two["previous_actions_reviewed"] == {}


def test_sensitive_parts_keep_their_security_labels() -> None:
    conference = conference_in(S.ADJOURNED)
    item = entry(fold(published(conference)), ONE, conference)["agenda_item"]
    assert item["risk_review"]["security"]["sensitivity"] == ["PSY"]
    assert item["information_shared"][0]["security"]["sensitivity"] == ["PSY"]
    assert item["security"]["confidentiality"] == "R"


def test_addenda_are_shown_once_on_the_plans_they_concern() -> None:
    conference = conference_in(S.FINALIZED)
    whole, about_one = uuid.uuid4(), uuid.uuid4()
    conference.add_addendum(whole, None, "BA sent apologies", SOCIAL_WORKER)
    conference.add_addendum(about_one, ONE, "hearing is on the 10th", CHAIR)
    events = published(conference)
    plans = fold(events + events[-2:])
    one, two = entry(plans, ONE, conference), entry(plans, TWO, conference)
    assert [(a["addendum_id"], a["about"]) for a in one["addenda"]] == [
        (str(whole), "minutes"), (str(about_one), "agenda-item")]
    assert [a["addendum_id"] for a in two["addenda"]] == [str(whole)]
    assert one["addenda"][1]["security"]["sensitivity"] == ["PSY"]


def test_a_conference_ended_early_shows_why() -> None:
    cancelled = run(conference_in(S.SCHEDULED), ["cancel"])
    assert entry(fold(published(cancelled)), ONE, cancelled)["status"] == "cancelled"
    withdrawn = run(conference_in(S.FINALIZED), ["entered_in_error"])
    ended = entry(fold(published(withdrawn)), TWO, withdrawn)
    assert (ended["status"], ended["ended_reason"]) == ("entered-in-error", "drafted twice")


def test_status_follows_the_conference_step_by_step() -> None:
    conference = conference_in(S.FINALIZED)
    plans: dict[str, Doc] = {}
    seen = []
    for e in published(conference):
        fold([e], plans)
        if str(conference.id) in plans.get(str(ONE), {}).get("conferences", {}):
            seen.append(entry(plans, ONE, conference)["status"])
    assert list(dict.fromkeys(seen)) == ["scheduled", "in-session", "adjourned", "finalized"]


def test_applying_one_event_to_several_plans_shares_nothing_between_them() -> None:
    conference = conference_in(S.FINALIZED)
    plans = fold(published(conference))
    entry(plans, ONE, conference)["chair"]["id"] = "changed"
    entry(plans, ONE, conference)["invitations"].clear()
    assert entry(plans, TWO, conference)["chair"]["id"] == "psy-3307"
    assert entry(plans, TWO, conference)["invitations"]


def test_each_event_applied_twice_in_a_row_changes_nothing_more() -> None:
    events = published(run(conference_in(S.FINALIZED), ["addendum"]))
    assert fold([e for e in events for _ in range(2)]) == fold(events)


def test_events_it_cannot_place_are_ignored() -> None:
    conference = conference_in(S.FINALIZED)
    events = published(conference)
    plan: Doc = {"client_id": str(ONE)}
    for e in events[2:]:  # never saw it scheduled
        view.apply(plan, e)
    assert plan.get("conferences", {}) == {}
    stranger: Doc = {"client_id": str(uuid.uuid4())}
    for e in events:  # a plan of a client not on the agenda
        view.apply(stranger, e)
    view.apply(stranger, {**events[1], "event_type": "referral.made"})
    assert stranger.get("conferences", {}) == {}


def test_a_draft_concerns_no_client() -> None:
    assert view.concerns(published(conference_in(S.DRAFT))[0]) == []
    before = {"client_id": str(ONE)}
    after = copy.deepcopy(before)
    view.apply(after, published(conference_in(S.DRAFT))[0])
    assert after == before
