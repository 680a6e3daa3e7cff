"""Everything derived from a client's full plan, written in the same transaction: one view
per (role, organisation) related to the client, the emergency (break-glass) view, the
client's scope (custodian and care team), psychotherapy notes per (organisation, role,
author), and the coordinator worklist rows of each related organisation."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from projections import access_scope, role_views, worklists
from projections.view_store import Derived

NOTES_VIEW = "psychotherapy_notes"


def notes_key(client_id: str, organisation: str, role: str, author_id: str) -> str:
    """Unambiguous whatever the ids hold (a JSON array, not a joined string)."""
    return json.dumps([client_id, organisation, role, author_id], separators=(",", ":"))


def worklist_kind(kind: str, organisation: str) -> str:
    """Worklist rows are kept per organisation: a coordinator's query names its own."""
    return f"{kind}@{organisation}"


def audiences(full: dict[str, Any]) -> list[tuple[str, str]]:
    """The (role, organisation) pairs that could ever read this client: coordinators and
    auditors of every related organisation, clinicians and advocates of the organisations
    that have (or had) someone in that role on the team. Pairs only ever grow, so no view
    that was once written is left stale."""
    orgs = access_scope.organisations(full)
    pairs = [(role, org) for role in (role_views.COORDINATOR, role_views.AUDITOR)
             for org in orgs]
    for role in (*role_views.CLINICIANS, *role_views.ADVOCATE_DOMAIN):
        pairs += [(role, org) for org in access_scope.organisations_with_role(full, role)]
    return pairs


def derive(key: str, full: dict[str, Any]) -> Derived:
    docs: list[tuple[str, str, dict[str, Any]]] = []
    rows: list[worklists.Row] = []
    scope = access_scope.scope_doc(full)
    docs.append((access_scope.SCOPE_VIEW, key, scope))
    for role, org in audiences(full):
        rendered = role_views.render(full, role, org)
        docs.append((role_views.view_name(role), role_views.view_key(key, org), rendered))
        if role == role_views.COORDINATOR:
            # Worklists come from the coordinator's own view: never more than it shows.
            own = worklists.rows_for(rendered, custodian=org == scope["custodian"])
            rows += [replace(r, kind=worklist_kind(r.kind, org)) for r in own]
    docs.append((role_views.view_name(role_views.BREAK_GLASS), key,
                 role_views.render(full, role_views.BREAK_GLASS)))
    for (org, role, author), notes in role_views.notes_by_author(full).items():
        docs.append((NOTES_VIEW, notes_key(key, org, role, author), notes))
    return Derived(docs=docs, rows=rows)
