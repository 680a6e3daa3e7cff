"""A read or disclosure of a client's record: who saw which view, when, and why.

Every read is itself a fact (HIPAA 164.528 accounting of disclosures, kept 6 years). One
``Disclosure`` aggregate per read, created and never changed, so reads never contend with
each other or with care events.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.provenance import Provenance

PURPOSES = ("treatment", "care-coordination", "audit", "emergency")


class BreakGlassReasonRequired(DomainError):
    """A break-glass access needs a stated reason."""

    code = "break_glass_reason_required"


class Disclosure(Aggregate):
    @event("Recorded")
    def __init__(
        self,
        id: UUID,  # chosen by the reader's request, so a retried write is one read
        client_id: UUID,
        viewer_id: str,
        viewer_role: str,
        viewer_organisation: str,
        view: str,
        purpose: str,
        break_glass_reason: str | None,
        channel: str,
        read_at: datetime,
        provenance: Provenance,
    ) -> None:
        self.client_id = client_id
        self.viewer_id, self.viewer_role = viewer_id, viewer_role
        self.viewer_organisation = viewer_organisation
        self.view, self.purpose, self.channel = view, purpose, channel
        self.break_glass_reason = break_glass_reason
        self.read_at = read_at

    @classmethod
    def record(cls, disclosure_id: UUID, client_id: UUID, view: str, purpose: str,
               break_glass_reason: str | None, channel: str, provenance: Provenance
               ) -> Disclosure:
        """``channel`` is how it was read (http, nats, cli); the reader is the provenance's
        actor and the time of the read its ``occurred_at``, both from the service edge."""
        reader = provenance.actor
        if purpose == "emergency" and not (break_glass_reason or "").strip():
            raise BreakGlassReasonRequired("break-glass access needs a stated reason",
                                           field="break_glass_reason")
        return cls(id=disclosure_id, client_id=client_id, viewer_id=reader.id,
                   viewer_role=reader.role, viewer_organisation=reader.organisation, view=view,
                   purpose=purpose, break_glass_reason=break_glass_reason, channel=channel,
                   read_at=provenance.occurred_at, provenance=provenance)
