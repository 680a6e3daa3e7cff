"""The pages arrange a role's view; they judge "overdue" against today and add nothing."""

from __future__ import annotations

from datetime import date

from services.web import shaping

REFERRAL = {"referral_id": "r1", "status": "requested", "requested_at": "2026-11-02T10:00:00Z",
            "requested_by": {"organisation": "riverside-cmhc"}, "response_due": "2026-11-04",
            "response_deadline": "2026-11-20", "loop_closed": False,
            "history": [{"event": "referral.made", "occurred_at": "2026-11-02T10:00:00Z",
                         "actor": {"organisation": "riverside-cmhc"}}]}


def test_overdue_is_judged_on_the_day_asked() -> None:
    assert not shaping.referral_loop(REFERRAL, date(2026, 11, 4))["overdue"]
    late = shaping.referral_loop(REFERRAL, date(2026, 11, 5))
    assert late["overdue"] and not late["past_deadline"]
    assert shaping.referral_loop(REFERRAL, date(2026, 11, 21))["past_deadline"]
    answered = {**REFERRAL, "status": "accepted"}
    assert not shaping.referral_loop(answered, date(2026, 12, 1))["overdue"]


def test_the_loop_runs_from_made_to_acknowledged() -> None:
    closed = {**REFERRAL, "status": "completed", "loop_closed": True, "history": [
        *REFERRAL["history"],
        {"event": "referral.completed", "occurred_at": "2026-11-10T09:00:00Z",
         "actor": {"organisation": "harbor-housing"}, "outcome": "got-help"},
        {"event": "referral.outcome_acknowledged", "occurred_at": "2026-11-11T09:00:00Z",
         "actor": {"organisation": "riverside-cmhc"}}]}
    loop = shaping.referral_loop(closed, date(2026, 12, 1))
    assert [s["label"] for s in loop["steps"]] == ["made", "completed", "outcome acknowledged"]
    assert loop["closed"] and not loop["awaiting_ack"] and not loop["overdue"]
    assert loop["steps"][1]["detail"] == "got-help"


def test_the_chart_has_totals_only_when_the_view_holds_screenings() -> None:
    assert shaping.screening_chart({"screening_trend": [{"instrument": "PHQ-9",
                                                         "band": "mild"}]}) == []
    doc = {"screenings": [
        {"instrument": "PHQ-9", "total": 27, "band": "severe", "occurred_at": "2026-10-01"},
        {"instrument": "GAD-7", "total": 0, "band": "minimal", "occurred_at": "2026-10-01"},
        {"instrument": "PHQ-9", "total": 0, "band": "minimal", "occurred_at": "2026-11-01"}]}
    phq, gad = shaping.screening_chart(doc)
    c = shaping.CHART
    assert [p["y"] for p in phq["points"]] == [c["top"], c["height"] - c["bottom"]]
    assert gad["points"][0]["y"] == c["height"] - c["bottom"]
    assert phq["points"][0]["x"] == gad["points"][0]["x"] < phq["points"][1]["x"]


def test_only_consents_in_force_today_are_listed() -> None:
    doc = {"consents": {
        "a": {"status": "active", "period_start": "2026-01-01", "period_end": "2026-12-31"},
        "b": {"status": "active", "period_start": "2026-01-01", "period_end": "2026-06-30"},
        "c": {"status": "inactive", "period_start": "2026-01-01", "period_end": None},
        "d": {"status": "active", "period_start": "2027-01-01", "period_end": None}}}
    assert shaping.consents_in_force(doc, date(2026, 11, 29)) == [doc["consents"]["a"]]


def test_times_are_shown_in_utc_to_the_minute() -> None:
    assert shaping.when("2026-11-17T14:05:00-05:00") == "2026-11-17 19:05 UTC"
    assert shaping.when("2026-11-17T19:05:59Z") == "2026-11-17 19:05 UTC"
    assert shaping.when("2026-11-17") == "2026-11-17"
    assert shaping.when(None) == ""
