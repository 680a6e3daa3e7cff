"""The care-plan view folds public events into status and history."""

from __future__ import annotations

import uuid
from typing import Any

from projections import care_plan

CLIENT, REFERRAL = str(uuid.uuid4()), str(uuid.uuid4())
ACTOR = {"id": "p", "role": "coordinator", "organisation": "o"}


def ev(position: int, event_type: str, aggregate: str, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{position}", "event_type": event_type, "position": position,
            "aggregate_id": aggregate, "client_id": CLIENT, "actor": ACTOR,
            "occurred_at": f"2026-11-0{position}T10:00:00Z", "recorded_at": "2026-11-20T10:00:00Z",
            "data": data}


def fold(*events: dict[str, Any]) -> dict[str, Any]:
    plan = None
    for e in events:
        for key in care_plan.keys_of(e):
            plan = care_plan.apply(plan, e, key)
    assert plan is not None
    return care_plan.as_response(plan)


MADE = ev(2, "referral.made", REFERRAL, to_service="housing", to_organisation="h",
          reason="r", priority="urgent", client_id=CLIENT, draft=False,
          response_due="2026-11-04", response_deadline="2026-11-20")


def test_registered_client_appears_with_identity() -> None:
    plan = fold(ev(1, "client.registered", CLIENT, given_name="Ada", family_name="L",
                   birth_date="1990-01-01"))
    assert plan["client"]["given_name"] == "Ada" and plan["referrals"] == []


def test_referral_shows_current_status_owner_outcome_and_history() -> None:
    plan = fold(MADE, ev(3, "referral.accepted", REFERRAL, owner="ha-1"),
                ev(4, "referral.completed", REFERRAL, outcome="got-help", note="n"),
                ev(5, "referral.outcome_acknowledged", REFERRAL, note=""))
    (referral,) = plan["referrals"]
    assert (referral["status"], referral["owner"], referral["outcome"]) == (
        "completed", "ha-1", "got-help")
    assert referral["loop_closed"] is True
    assert [h["event"] for h in referral["history"]] == [
        "referral.made", "referral.accepted", "referral.completed",
        "referral.outcome_acknowledged"]
    assert plan["last_position"] == 5


def test_loop_is_open_until_the_outcome_is_acknowledged() -> None:
    plan = fold(MADE, ev(3, "referral.rejected", REFERRAL, reason="full"))
    assert plan["referrals"][0]["status"] == "rejected"
    assert plan["referrals"][0]["loop_closed"] is False


def test_drafted_referral_waits_until_requested_with_its_deadlines() -> None:
    drafted = {**MADE, "data": {**MADE["data"], "draft": True, "response_due": None,
                                "response_deadline": None}}
    plan = fold(drafted)
    assert plan["referrals"][0]["status"] == "draft"
    plan = fold(drafted, ev(3, "referral.requested", REFERRAL, response_due="2026-11-05",
                            response_deadline="2026-11-21"))
    referral = plan["referrals"][0]
    assert (referral["status"], referral["response_due"]) == ("requested", "2026-11-05")


def test_missed_deadline_and_pending_cancellation_show_without_changing_status() -> None:
    plan = fold(MADE, ev(3, "referral.response_deadline_missed", REFERRAL, kind="response-due",
                         due="2026-11-04", as_of="2026-11-05"))
    assert plan["referrals"][0]["missed_deadlines"] == ["response-due"]
    assert plan["referrals"][0]["status"] == "requested"
    plan = fold(MADE, ev(3, "referral.accepted", REFERRAL, owner="o"),
                ev(4, "referral.cancellation_requested", REFERRAL, reason="moved"))
    assert plan["referrals"][0]["cancellation_pending"] is True
    plan = fold(MADE, ev(3, "referral.accepted", REFERRAL, owner="o"),
                ev(4, "referral.cancellation_requested", REFERRAL, reason="moved"),
                ev(5, "referral.cancellation_confirmed", REFERRAL))
    assert plan["referrals"][0]["status"] == "cancelled"
    assert plan["referrals"][0]["cancellation_pending"] is False


def test_goals_and_tasks_keep_their_security_labels() -> None:
    plan_id = str(uuid.uuid4())
    sud = {"confidentiality": "R", "sensitivity": ["ETH", "SUD"], "law": ["42CFRPart2"]}
    plan = fold(
        ev(1, "care_plan.goal_set", plan_id, goal_id="g1", domain="substance-use",
           description="d", status="active", need_id=None, target_date=None, security=sud),
        ev(2, "care_plan.goal_status_changed", plan_id, goal_id="g1", status="completed",
           achievement="achieved", reason="", security=sud),
        ev(3, "care_plan.task_added", plan_id, task_id="t1", title="t", owner="o",
           due="2026-12-01", domain="housing", source="conference:c1",
           security={"confidentiality": "N", "sensitivity": [], "law": []}),
        ev(4, "care_plan.task_completed", plan_id, task_id="t1", note=""))
    goal = plan["goals"]["g1"]
    assert (goal["lifecycle_status"], goal["achievement_status"]) == ("completed", "achieved")
    assert goal["security"] == sud
    assert plan["tasks"]["t1"]["status"] == "completed"
    assert plan["tasks"]["t1"]["source"] == "conference:c1"


def test_discharge_and_revoked_consent_show_on_the_plan() -> None:
    plan = fold(
        ev(1, "client.consent_recorded", CLIENT, consent_id="k1", status="active",
           provision="permit", recipient_roles=["housing-advocate"], recipient_organisations=[],
           purposes=["care-coordination"], data_categories=["housing"],
           period_start="2026-11-01", period_end=None, part2=False),
        ev(2, "client.consent_status_changed", CLIENT, consent_id="k1", status="inactive",
           reason="withdrawn"),
        ev(3, "client.discharged", CLIENT, reason="moved", on="2026-11-30"))
    assert plan["consents"]["k1"]["status"] == "inactive"
    assert plan["status"] == "discharged"
