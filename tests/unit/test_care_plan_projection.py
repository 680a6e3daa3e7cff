"""The care-plan view folds public events into status and history."""

from __future__ import annotations

import uuid
from typing import Any

from projections import care_plan

CLIENT, REFERRAL = str(uuid.uuid4()), str(uuid.uuid4())
ACTOR = {"id": "p", "role": "coordinator", "organisation": "o"}


def ev(position: int, kind: str, aggregate: str, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{position}", "event_type": kind, "position": position,
            "aggregate_id": aggregate, "client_id": CLIENT, "actor": ACTOR,
            "occurred_at": f"2026-11-0{position}T10:00:00Z", "recorded_at": "2026-11-20T10:00:00Z",
            "data": data}


def fold(*events: dict[str, Any]) -> dict[str, Any]:
    plan = None
    for e in events:
        plan = care_plan.apply(plan, e)
    assert plan is not None
    return care_plan.as_response(plan)


MADE = ev(2, "referral.made", REFERRAL, to_service="housing", to_organisation="h",
          reason="r", priority="urgent", client_id=CLIENT)


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
