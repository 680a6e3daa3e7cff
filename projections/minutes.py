"""Conference minutes as each audience gets them: labels apply per line.

An agenda item carries the combined labels of everything said in it, but a label hides only
the line that carries it (one discipline's information, the risk review, one addendum), never
the whole item: the decisions, the dissent and the action items stay.
"""

from __future__ import annotations

import copy
from typing import Any

from projections.labels import Predicate, without

Doc = dict[str, Any]

SCHEDULE = ("conference_id", "title", "status", "scheduled_for")


def line_by_line(conferences: Doc, drop: Predicate) -> Doc:
    """Every conference, with each labelled line ``drop`` rejects removed."""
    out: Doc = {}
    for cid, conference in conferences.items():
        entry = copy.deepcopy(conference)
        item = entry.get("agenda_item")
        if isinstance(item, dict):
            item.pop("security", None)  # the item's combined labels hide nothing themselves
            item = without(item, drop)
            if isinstance(item.get("risk_review"), dict) and drop(item["risk_review"]):
                item["risk_review"] = None
            entry["agenda_item"] = item
        entry["addenda"] = [a for a in without(entry.get("addenda") or [], drop)
                            if not drop(a)]
        out[cid] = entry
    return out


def schedule_only(conferences: Doc) -> Doc:
    """When minutes are denied: that a conference was held about the client, no content."""
    return {cid: {k: c.get(k) for k in SCHEDULE} for cid, c in conferences.items()}


def action_items_of_domain(conferences: Doc, domain: str) -> Doc:
    """An advocate's extract: the schedule and the action items of its own domain."""
    out: Doc = {}
    for cid, c in conferences.items():
        actions = ((c.get("agenda_item") or {}).get("action_items") or {})
        mine = {k: copy.deepcopy(a) for k, a in actions.items() if a.get("domain") == domain}
        out[cid] = {**{k: c.get(k) for k in SCHEDULE}, "action_items": mine}
    return out
