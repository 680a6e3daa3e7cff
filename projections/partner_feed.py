"""What each partner organisation's feed holds for a client: for every role the
organisation holds on the client's care team (an active member), that role's view,
rendered by the same function as the role views (``role_views.render``, for that role and
organisation) from the full plan as it stands. Organisations without an active member get nothing; one whose last member
left gets an ``ended`` message that replaces what it had.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from projections import role_views

Doc = dict[str, Any]
FEED_ROLES = (role_views.SOCIAL_WORKER, role_views.PSYCHIATRIST, role_views.HOUSING,
              role_views.BENEFITS, role_views.COORDINATOR)
"""Care-team roles with a view; auditors and break-glass access never reach a feed."""
PURPOSE = {role_views.SOCIAL_WORKER: "treatment", role_views.PSYCHIATRIST: "treatment",
           role_views.HOUSING: "care-coordination", role_views.BENEFITS: "care-coordination",
           role_views.COORDINATOR: "care-coordination"}
"""The purpose a feed delivery is accounted under, per role."""
VOLATILE = ("last_position", "updated_at")
"""Change with every event of the client, visible or not: left out of the comparison."""

Pair = tuple[str, str]  # (organisation, role)


def relationships(full: Doc, organisations: set[str]) -> set[Pair]:
    return {(m["organisation"], m["role"]) for m in (full.get("care_team") or {}).values()
            if not m.get("period_end") and m["role"] in FEED_ROLES
            and m["organisation"] in organisations}


def views_for(full: Doc, organisations: set[str]) -> dict[Pair, Doc]:
    return {(org, role): role_views.render(full, role, org)
            for org, role in sorted(relationships(full, organisations))}


def message(organisation: str, role: str, client_id: str, view: Doc | None) -> Doc:
    """One feed message: the whole view (``relationship: active``), or ``ended`` without
    any client data when the organisation no longer has that role on the team."""
    if view is None:
        return {"organisation": organisation, "role": role, "client_id": client_id,
                "relationship": "ended"}
    return {"organisation": organisation, "role": role, "client_id": client_id,
            "relationship": "active", "view": view}


def fingerprint(feed_message: Doc) -> str:
    """Equal for two messages that show the same thing (positions and times aside)."""
    view = feed_message.get("view")
    stable = {**feed_message, "view": {k: v for k, v in view.items() if k not in VOLATILE}
              if isinstance(view, dict) else None}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()
