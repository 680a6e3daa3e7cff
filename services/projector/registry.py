"""The projections careloop keeps, by name: what rebuilds and as-of queries can fold."""

from __future__ import annotations

from services.projector.consumer import CARE_PLAN, Projection

PROJECTIONS: dict[str, Projection] = {CARE_PLAN.view: CARE_PLAN}
"""View name → projection. A new view (a role's minimum-necessary plan) is added here."""
