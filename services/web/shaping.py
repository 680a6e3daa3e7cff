"""Arrange a role's care-plan document for the page: nothing is added to what the view holds,
only grouped, ordered and dated (and "overdue" judged against today)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

Doc = dict[str, Any]

DOMAINS = ("clinical", "housing", "benefits", "psychosocial", "substance-use")
AWAITING = ("requested", "received")
CHART = {"width": 320, "height": 140, "left": 30, "bottom": 20, "top": 8, "right": 10}
SCALES = {"PHQ-9": 27, "GAD-7": 21}
AXIS_TOP = 27
TICKS = (0, 5, 10, 15, 20, 27)  # the severity bands start at 5, 10, 15 and 20


def when(value: Any) -> str:
    """An ISO time as the page shows it: in UTC, to the minute (a bare date stays a date)."""
    text = str(value or "")
    if len(text) <= 10:
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:16].replace("T", " ")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def by_domain(doc: Doc) -> list[tuple[str, list[Doc], list[Doc]]]:
    """(domain, needs, goals) for each domain the view holds anything in, in a fixed order."""
    needs: dict[str, list[Doc]] = defaultdict(list)
    goals: dict[str, list[Doc]] = defaultdict(list)
    for n in (doc.get("needs") or {}).values():
        needs[n.get("domain", "")].append(n)
    for g in (doc.get("goals") or {}).values():
        goals[g.get("domain", "")].append(g)
    present = [d for d in DOMAINS if d in needs or d in goals]
    present += sorted((set(needs) | set(goals)) - set(DOMAINS))
    return [(d, needs.get(d, []), goals.get(d, [])) for d in present]


def _day(value: Any) -> str:
    return str(value or "")[:10]


def consents_in_force(doc: Doc, today: date) -> list[Doc]:
    out = []
    for c in (doc.get("consents") or {}).values():
        start, end = _day(c.get("period_start")), _day(c.get("period_end"))
        if c.get("status") == "active" and (not start or start <= today.isoformat()) and (
                not end or today.isoformat() <= end):
            out.append(c)
    return out


def team(doc: Doc) -> list[Doc]:
    members = list((doc.get("care_team") or {}).values())
    return sorted(members, key=lambda m: (bool(m.get("period_end")), m.get("role", "")))


def referral_loop(referral: Doc, today: date) -> Doc:
    """The loop of one referral as a timeline: made, each step, then acknowledged or the
    deadlines still ahead (or missed)."""
    steps = [{"label": "made", "at": referral.get("requested_at"),
              "by": (referral.get("requested_by") or {}).get("organisation")}]
    for step in referral.get("history") or []:
        label = str(step.get("event", "")).split(".", 1)[-1].replace("_", " ")
        if label in ("made", "requested") and steps[0]["at"] == step.get("occurred_at"):
            continue
        steps.append({"label": label, "at": step.get("occurred_at"),
                      "by": (step.get("actor") or {}).get("organisation"),
                      "detail": step.get("outcome") or step.get("reason") or step.get("owner")})
    due, deadline = _day(referral.get("response_due")), _day(referral.get("response_deadline"))
    waiting = referral.get("status") in AWAITING
    return {"steps": steps, "closed": bool(referral.get("loop_closed")),
            "due": due, "deadline": deadline,
            "overdue": waiting and bool(due) and due < today.isoformat(),
            "past_deadline": waiting and bool(deadline) and deadline < today.isoformat(),
            "awaiting_ack": referral.get("status") in ("completed", "failed", "rejected")
            and not referral.get("loop_closed")}


def screening_chart(doc: Doc) -> list[Doc]:
    """One polyline per instrument (PHQ-9, GAD-7) of totals over time, for an inline SVG.
    Only a view that holds the screenings themselves (the clinicians') has totals."""
    screenings = sorted(doc.get("screenings") or [], key=lambda s: s.get("occurred_at") or "")
    if not screenings:
        return []
    c = CHART
    inner_w, inner_h = c["width"] - c["left"] - c["right"], c["height"] - c["top"] - c["bottom"]
    dates = sorted({_day(s.get("occurred_at") or s.get("date")) for s in screenings})
    step = inner_w / max(len(dates) - 1, 1)
    x_of = {d: c["left"] + i * step for i, d in enumerate(dates)}
    series = []
    for instrument, top in SCALES.items():
        points = []
        for s in screenings:
            if s.get("instrument") != instrument or s.get("total") is None:
                continue
            x = x_of[_day(s.get("occurred_at") or s.get("date"))]
            # One scale for both (0-27), so totals compare honestly on the same axis.
            y = c["top"] + inner_h * (1 - min(int(s["total"]), top) / AXIS_TOP)
            points.append({"x": round(x, 1), "y": round(y, 1), "total": s["total"],
                           "band": s.get("band"), "date": _day(s.get("occurred_at"))})
        if points:
            series.append({"instrument": instrument, "max": top, "points": points,
                           "path": " ".join(f"{p['x']},{p['y']}" for p in points)})
    return series


def chart_ticks() -> list[Doc]:
    c = CHART
    inner_h = c["height"] - c["top"] - c["bottom"]
    return [{"value": t, "y": round(c["top"] + inner_h * (1 - t / AXIS_TOP), 1)} for t in TICKS]


def conferences(doc: Doc) -> list[Doc]:
    return sorted((doc.get("conferences") or {}).values(),
                  key=lambda c: str(c.get("scheduled_for") or ""), reverse=True)
