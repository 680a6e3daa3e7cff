"""A caller's care plan as a FHIR R4 Bundle, rendered from the caller's own role view.

Pure: whatever the view holds becomes resources, and nothing else does. The policy of who
sees what lives in the views (and the read checks in front of them), so it applies to the
FHIR export unchanged.
"""

from __future__ import annotations

from typing import Any

from services.fhir import export_clinical, export_conferences, export_people, export_plan, ids
from services.fhir.bundle import BundleBuilder, unresolved
from services.fhir.export_referrals import referrals

Doc = dict[str, Any]
MEDIA_TYPE = "application/fhir+json"


class ExportError(ValueError):
    """The rendered Bundle would not be self-contained (a bug, never the caller's fault)."""


def care_plan_bundle(view: Doc) -> Doc:
    """The Bundle of one role view (as served: referrals as a list or by id)."""
    out = BundleBuilder()
    export_people.patient(view, out)
    export_people.care_team(view, out)
    export_people.consents(view, out)
    export_plan.needs(view, out)
    export_plan.goals(view, out)
    export_plan.tasks(view, out)
    referrals(view, out)
    export_clinical.clinical(view, out)
    export_conferences.conferences(view, out)
    export_plan.care_plan(view, out)
    bundle = out.bundle(ids.derived("care-plan-export", view["client_id"],
                                    str(view.get("view")), str(view.get("last_position"))))
    missing = unresolved(bundle)
    if missing:
        raise ExportError(f"unresolved references: {', '.join(sorted(set(missing))[:5])}")
    return bundle
