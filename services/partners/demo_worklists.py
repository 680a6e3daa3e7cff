"""More of the sample story, so a coordinator's worklists have something in them: a plan with
needs, goals and an overdue task, a Part 2 treatment episode, PHQ-9/GAD-7 screenings over time, a high risk flag, a
referral nobody has answered, an outcome not yet acknowledged, a conference held and signed
off, conferences past and coming,
and a second client. Dates are relative to the first run; ids and message ids are fixed, so
running the demo again posts nothing new."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import contracts

EXAMPLES = Path(contracts.__file__).resolve().parent / "examples"

CLIENT = "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11"
SECOND = str(uuid.uuid5(uuid.NAMESPACE_URL, "careloop-demo/client/2"))
SW = {"id": "sw-1042", "role": "clinical-social-worker", "organisation": "riverside-cmhc"}
COORD = {"id": "co-5001", "role": "coordinator", "organisation": "riverside-cmhc"}
HARBOR = {"id": "ha-207", "role": "housing-advocate", "organisation": "harbor-housing"}


def example(message_type: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{message_type}.json").read_text())  # type: ignore[no-any-return]


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"careloop-demo/{name}"))


def _msg(n: int, message_type: str, at: datetime, actor: dict[str, str] | None = None,
         source: str | None = None, **payload: Any) -> dict[str, Any]:
    m = example(message_type)
    m.update(message_id=f"demo-web-{n:03d}", occurred_at=at.isoformat(),
             correlation_id="demo-worklists")
    if actor:
        m["actor"] = actor
    if source:
        m["source_system"] = source
    m["payload"] = {**m["payload"], **payload}
    return m


def _items(total: int, count: int) -> list[int]:
    items = [0] * count
    for i in range(total):
        items[i % (count - 1)] += 1  # the last item (PHQ-9 item 9) stays 0
    return items


def conference_story(now: datetime) -> Iterator[dict[str, Any]]:
    """The example case conference, held twelve days ago and signed off: its decisions and
    its action item (a task for the housing advocate, due in two weeks) reach the plan."""
    day, minute = timedelta(days=1), timedelta(minutes=1)
    held, due = now - 12 * day, (now + 14 * day).date().isoformat()
    steps: list[tuple[str, datetime, dict[str, Any]]] = [
        ("conference.drafted", now - 20 * day, {}),
        ("conference.scheduled", now - 19 * day, {"scheduled_for": held.isoformat()}),
        ("conference.attendance_recorded", held, {}),
        ("conference.discussion_agreed", held + minute, {}),
        ("conference.session_started", held + 2 * minute, {}),
        ("conference.item_discussed", held + 30 * minute, {"action_items": [
            {**a, "due": due}
            for a in example("conference.item_discussed")["payload"]["action_items"]]}),
        ("conference.action_item_assigned", held + 50 * minute, {"due": due}),
        ("conference.adjourned", held + 55 * minute, {}),
        ("conference.finalized", now - 10 * day, {})]
    for n, (message_type, at, payload) in enumerate(steps, start=30):
        yield _msg(n, message_type, at, **payload)


def worklist_story(now: datetime) -> Iterator[dict[str, Any]]:
    day = timedelta(days=1)
    yield from conference_story(now)
    yield _msg(17, "client.registered", now - 27 * day, client_id=SECOND, given_name="Sam",
               family_name="Okafor", birth_date="1979-09-30")
    for n, client in ((20, CLIENT), (21, SECOND)):
        yield _msg(n, "care_team.member_added", now - 26 * day, COORD, client_id=client,
                   member_id=SW["id"], role=SW["role"], organisation=SW["organisation"],
                   period_start=(now - 26 * day).date().isoformat())
    yield _msg(1, "need.identified", now - 40 * day)
    yield _msg(2, "goal.set", now - 40 * day)  # untouched since: a stale goal
    yield _msg(3, "task.added", now - 20 * day, COORD, due_date=(now - 6 * day).date().isoformat())
    for n, (instrument, total, ago) in enumerate(
            [("PHQ-9", 19, 24), ("GAD-7", 12, 24), ("PHQ-9", 14, 12), ("GAD-7", 9, 12),
             ("PHQ-9", 8, 3), ("GAD-7", 5, 3)], start=4):
        yield _msg(n, "screening.recorded", now - ago * day, screening_id=_id(f"screen/{n}"),
                   instrument=instrument, total=total,
                   items=_items(total, 9 if instrument == "PHQ-9" else 7))
    yield _msg(24, "substance_use_treatment.recorded", now - 3 * day,
               started_on=(now - 3 * day).date().isoformat())  # Part 2: no consent given
    yield _msg(10, "risk_flag.raised", now - 3 * day, level="high",
               reason="Eviction hearing next week; passive thoughts of self-harm.")
    yield _msg(11, "referral.made", now - 8 * day, referral_id=_id("referral/psychiatry"),
               to_service="psychiatry", to_organisation="riverside-psych",
               reason="Medication review.", priority="routine")
    housing = _id("referral/housing-2")
    yield _msg(12, "referral.made", now - 12 * day, referral_id=housing,
               reason="Tenancy sustainment support.", priority="routine")
    yield _msg(13, "referral.accepted", now - 11 * day, referral_id=housing)
    yield _msg(14, "referral.completed", now - 2 * day, referral_id=housing)
    yield _msg(22, "conference.drafted", now - 15 * day, conference_id=_id("conference/1"),
               title="Monthly case review")
    yield _msg(23, "conference.drafted", now - 2 * day, conference_id=_id("conference/2"),
               title="Housing crisis conference")
    yield _msg(15, "conference.scheduled", now - 14 * day, conference_id=_id("conference/1"),
               scheduled_for=(now - 5 * day).isoformat())
    yield _msg(16, "conference.scheduled", now - day, conference_id=_id("conference/2"),
               scheduled_for=(now + 6 * day).isoformat())
    yield _msg(18, "risk_flag.raised", now - day, client_id=SECOND, flag_id=_id("flag/2"),
               level="imminent", reason="Stated plan and means at today's visit.")
    yield _msg(19, "task.added", now - 10 * day, COORD, client_id=SECOND,
               task_id=_id("task/2"), title="Arrange benefits appointment", owner="sw-1042",
               due_date=(now - 2 * day).date().isoformat(), domain="benefits")
