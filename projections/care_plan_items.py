"""CarePlan events folded into the care plan: needs, goals and tasks, with their labels."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def _entry(event: Doc, **fields: Any) -> Doc:
    return {**fields, "security": event["data"].get("security"),
            "updated_at": event["occurred_at"], "updated_by": event["actor"]}


def apply(plan: Doc, event: Doc) -> None:
    kind, data = event["event_type"], event["data"]
    needs = plan.setdefault("needs", {})
    goals = plan.setdefault("goals", {})
    tasks = plan.setdefault("tasks", {})
    if kind == "care_plan.need_identified":
        needs[data["need_id"]] = _entry(event, need_id=data["need_id"], domain=data["domain"],
                                        description=data["description"], resolved=False)
    elif kind == "care_plan.need_resolved" and data["need_id"] in needs:
        needs[data["need_id"]].update(resolved=True, updated_at=event["occurred_at"])
    elif kind == "care_plan.goal_set":
        goals[data["goal_id"]] = _entry(
            event, goal_id=data["goal_id"], domain=data["domain"],
            description=data["description"], lifecycle_status=data["status"],
            achievement_status=None, need_id=data.get("need_id"),
            target_date=data.get("target_date"))
    elif kind == "care_plan.goal_status_changed" and data["goal_id"] in goals:
        goal = goals[data["goal_id"]]
        goal.update(lifecycle_status=data["status"], updated_at=event["occurred_at"])
        if data.get("achievement"):
            goal["achievement_status"] = data["achievement"]
    elif kind == "care_plan.goal_achievement_recorded" and data["goal_id"] in goals:
        goals[data["goal_id"]].update(achievement_status=data["achievement"],
                                      updated_at=event["occurred_at"])
    elif kind == "care_plan.task_added":
        tasks[data["task_id"]] = _entry(
            event, task_id=data["task_id"], title=data["title"], owner=data["owner"],
            due_date=data["due"], domain=data["domain"], source=data["source"], status="open")
    elif kind in ("care_plan.task_completed", "care_plan.task_cancelled") and (
            data["task_id"] in tasks):
        tasks[data["task_id"]].update(status=kind.rsplit("_", 1)[1],
                                      updated_at=event["occurred_at"])
