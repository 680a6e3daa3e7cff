"""Everything derived from a client's full plan, written in the same transaction: one view
per role, psychotherapy notes per author, and the coordinator worklist rows."""

from __future__ import annotations

from typing import Any

from projections import role_views, worklists
from projections.view_store import Derived

NOTES_VIEW = "psychotherapy_notes"


def notes_key(client_id: str, author_id: str) -> str:
    return f"{client_id}:{author_id}"


def derive(key: str, full: dict[str, Any]) -> Derived:
    docs = []
    rendered = {}
    for role in role_views.ROLE_VIEWS:
        rendered[role] = role_views.render(full, role)
        docs.append((role_views.view_name(role), key, rendered[role]))
    for author, notes in role_views.notes_by_author(full).items():
        docs.append((NOTES_VIEW, notes_key(key, author), notes))
    # Worklists come from the coordinator's view, so they can never show more than it does.
    return Derived(docs=docs, rows=worklists.rows_for(rendered[role_views.COORDINATOR]))
