"""What the HTTP API answers, as models for the OpenAPI document.

The views are written by the projector and served as they are: these models describe
them (and are checked against live answers by the schemathesis conformance test) but never
filter them. Every model allows extra fields, so a view that gains a section stays valid;
sections a role may not see are simply absent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(BaseModel):
    """Why the request was refused; never says whether the client exists."""

    detail: Any = Field(description="A sentence a person can act on (a list of field errors "
                                    "for 422).")


class Labels(Open):
    """FHIR security labels of an entry."""

    confidentiality: str | None = Field(None, description="v3 Confidentiality: N, R or V.")
    sensitivity: list[str] = Field([], description="v3 ActCode sensitivities (PSY, SUD, ...).")
    law: list[str] = Field([], description="Laws that govern it (42CFRPart2).")


class Person(Open):
    """Who acted."""

    id: str = Field(description="The person's id in the sender's system.")
    role: str | None = Field(None, description="The role they acted in.")
    organisation: str | None = Field(None, description="The organisation they acted for.")


class Referral(Open):
    """A closed-loop referral (FHIR Task status)."""

    referral_id: str = Field(description="The referral's id.")
    to_service: str = Field(description="The service asked for.")
    to_organisation: str | None = Field(None, description="The organisation asked.")
    status: str = Field(description="draft, requested, received, accepted, rejected, "
                                    "in-progress, on-hold, completed, failed, cancelled, "
                                    "entered-in-error.")
    outcome: str | None = Field(None, description="Outcome code once completed.")
    loop_closed: bool | None = Field(None, description="The referrer acknowledged the outcome.")
    history: list[dict[str, Any]] | None = Field(None, description="Every step, oldest first.")


class TeamMember(Open):
    """A care-team member (membership defines caseloads)."""

    member_id: str = Field(description="The person's id.")
    role: str = Field(description="Their role on the team.")
    organisation: str | None = Field(None, description="Their organisation.")
    period_start: str | None = Field(None, description="First day on the team.")
    period_end: str | None = Field(None, description="Last day, if ended.")


class ConsentEntry(Open):
    """A consent (FHIR Consent): who may receive what, for what, when."""

    status: str = Field(description="draft, active, inactive, rejected, entered-in-error.")
    provision: str | None = Field(None, description="permit or deny.")
    recipient_roles: list[str] | None = Field(None, description="Roles it names.")
    recipient_organisations: list[str] | None = Field(None, description="Organisations.")
    purposes: list[str] | None = Field(None, description="Purposes it covers.")
    data_categories: list[str] | None = Field(None, description="Data it covers.")


class Need(Open):
    """A need or problem in one domain."""

    need_id: str = Field(description="The need's id.")
    domain: str | None = Field(None, description="Its domain.")
    description: str | None = Field(None, description="The need, in words.")
    resolved: bool | None = Field(None, description="Whether it was resolved.")


class Goal(Open):
    """A goal (FHIR Goal lifecycleStatus and achievementStatus)."""

    goal_id: str = Field(description="The goal's id.")
    domain: str | None = Field(None, description="Its domain.")
    lifecycle_status: str | None = Field(None, description="FHIR Goal lifecycleStatus.")
    achievement_status: str | None = Field(None, description="FHIR Goal achievementStatus.")


class PlanTask(Open):
    """A task on the care plan (from the team or a conference's action item)."""

    task_id: str = Field(description="The task's id.")
    title: str | None = Field(None, description="What is to be done.")
    owner: str | None = Field(None, description="Who does it.")
    due_date: str | None = Field(None, description="When it is due.")
    status: str | None = Field(None, description="open, completed or cancelled.")


class RiskFlag(Open):
    """A risk flag (FHIR Flag)."""

    flag_id: str = Field(description="The flag's id.")
    level: str | None = Field(None, description="low, moderate, high or imminent.")
    status: str | None = Field(None, description="active or inactive.")


class Screening(Open):
    """A PHQ-9 or GAD-7 (full), or its band and date only (a trend)."""

    instrument: str = Field(description="PHQ-9 or GAD-7.")
    band: str | None = Field(None, description="Severity band.")
    date: str | None = Field(None, description="When it was taken.")
    total: int | None = Field(None, description="Total score (full view only).")
    items: list[int] | None = Field(None, description="Item scores (full view only).")


class Conference(Open):
    """A case conference, with this client's agenda item."""

    conference_id: str = Field(description="The conference's id.")
    status: str | None = Field(None, description="draft, scheduled, in-session, adjourned, "
                                                 "finalized, cancelled, entered-in-error.")
    scheduled_for: str | None = Field(None, description="When it meets.")


class CarePlanView(Open):
    """A client's care plan as the caller's role may see it. Sections the role may not see
    are absent, not masked; which ones a role gets is described in docs/domain.md."""

    client_id: str = Field(description="The client's id.")
    view: str = Field(description="Which role's view this is.")
    status: str | None = Field(None, description="active or discharged.")
    last_position: int | None = Field(None, description="Store position of the last event "
                                                        "folded in.")
    updated_at: str | None = Field(None, description="When the last event was recorded.")
    client: dict[str, Any] | None = Field(None, description="Identity, as far as the role "
                                                           "may see it.")
    contact: dict[str, Any] | None = Field(None, description="Safe contact (SDV-safe).")
    care_team: dict[str, TeamMember] | None = Field(None, description="Members by id.")
    consents: dict[str, ConsentEntry] | None = Field(None, description="Consents by id.")
    needs: dict[str, Need] | None = Field(None, description="Needs by id.")
    goals: dict[str, Goal] | None = Field(None, description="Goals by id.")
    tasks: dict[str, PlanTask] | None = Field(None, description="Tasks by id.")
    referrals: list[Referral] = Field([], description="Referrals, oldest first.")
    screenings: list[Screening] | None = Field(None, description="PHQ-9/GAD-7 in full.")
    screening_trend: list[Screening] | None = Field(
        None, description="Band and date only (coordinators).")
    risk_flags: dict[str, RiskFlag] | None = Field(None, description="Risk flags by id.")
    risk_reviews: dict[str, dict[str, Any]] | None = Field(None, description="Risk reviews.")
    diagnoses: dict[str, dict[str, Any]] | list[dict[str, Any]] | None = Field(
        None, description="By id in full, or a summary list (coordinators).")
    medications: dict[str, dict[str, Any]] | list[dict[str, Any]] | None = Field(
        None, description="By id in full, or a summary list (coordinators).")
    conferences: dict[str, Conference] | None = Field(None, description="Case conferences "
                                                                         "by id.")
    substance_use: dict[str, dict[str, Any]] | None = Field(
        None, description="Part 2 episodes, only under consent or break-glass.")
    redisclosure_notice: str | None = Field(None, description="42 CFR 2.32 notice, with "
                                                              "Part 2 data.")
    safety_flag: str | None = Field(None, description="Advocates: that a flag exists.")
    consent_required: str | None = Field(None, description="Advocates: why the domain is "
                                                           "withheld.")
    metadata: dict[str, Any] | None = Field(None, description="Auditors: metadata of the "
                                                             "clinical record.")
    break_glass: list[dict[str, Any]] | None = Field(None, description="Auditors: openings.")


class PsychotherapyNotes(Open):
    """The caller's own psychotherapy notes about a client (author only)."""

    client_id: str = Field(description="The client's id.")
    author_id: str = Field(description="The caller: notes are served to their author only.")
    notes: dict[str, dict[str, Any]] = Field(description="Notes by id, with amendments.")


class BreakGlassGrant(Open):
    """An open emergency access grant."""

    client_id: str = Field(description="The client's id.")
    open_until: str = Field(description="When the grant closes (ISO 8601).")
    view: str = Field(description="Where to read with it.")


class WorklistItem(Open):
    """One entry of a worklist: the client and what is waiting."""

    client_id: str = Field(description="The client's id.")
    client_name: str | None = Field(None, description="The client's name.")
    date: str | None = Field(None, description="The date the entry is judged by.")


class WorklistPage(Open):
    """One page of a coordinator's worklist."""

    worklist: str = Field(description="The worklist's name.")
    as_of: str = Field(description="The day 'overdue' was judged on.")
    total: int = Field(description="Entries in all pages.")
    limit: int = Field(description="Page size asked for.")
    offset: int = Field(description="Entries skipped.")
    items: list[WorklistItem] = Field(description="This page's entries.")


def documented_refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the refusals a route can give."""
    why = {400: "Bad arguments.", 401: "Missing, forged or expired bearer token.",
           403: "Outside the caller's rights (same answer whether or not the client exists).",
           404: "Nothing there for the caller.",
           422: "The request's parameters or body are not valid (each error is listed).",
           503: "A dependency (store, NATS) is away; nothing was read; try again."}
    return {code: {"model": ErrorBody, "description": why[code]} for code in codes}


class StoredEvent(Open):
    """One stored event, as published on careloop.events (see the outbound event schema)."""

    event_id: str = Field(description="Stable id of the event.")
    event_type: str = Field(description="e.g. referral.accepted.")
    position: int = Field(description="Position in careloop's store.")
    aggregate_type: str = Field(description="e.g. referral.")
    aggregate_id: str = Field(description="The aggregate changed.")
    actor: Person = Field(description="Who acted.")
    occurred_at: str = Field(description="Business time, from the sender.")
    recorded_at: str = Field(description="When careloop stored it.")


class Timeline(Open):
    """A client's history: every stored event that touches them, in store order."""

    client_id: str = Field(description="The client's id.")
    events: list[StoredEvent] = Field(description="Oldest first.")


class Disclosure(Open):
    """One read of, or delivery from, the client's record (HIPAA accounting)."""

    at: str = Field(description="When it was read or disclosed.")
    kind: str = Field(description="read or referral.")
    recipient: str = Field(description="Who received it.")
    role: str = Field(description="Their role.")
    organisation: str = Field(description="Their organisation.")
    what: str = Field(description="The view read, or the service referred to.")
    purpose: str = Field(description="Why.")
    break_glass_reason: str | None = Field(None, description="The emergency, if any.")
    channel: str = Field(description="http, nats or cli.")
    position: int = Field(description="Position of the record in the store.")


class Disclosures(Open):
    """The accounting of disclosures of one client."""

    client_id: str = Field(description="The client's id.")
    disclosures: list[Disclosure] = Field(description="Oldest first.")


class ChainReport(Open):
    """The tamper-evidence chain, checked from the start to the store's head."""

    ok: bool = Field(description="True when every link matches.")
    checked: int = Field(description="Events checked.")
    head: str = Field(description="<position>:<hash> of the head.")
    finding: dict[str, Any] | None = Field(None, description="The first mismatch, if any.")


class AggregateState(Open):
    """An aggregate as it stood at one version (its attributes, as stored)."""

    aggregate_type: str = Field(description="e.g. Referral.")


class FhirBundle(Open):
    """A FHIR R4 Bundle (resourceType, type, entry)."""

    resourceType: str = Field(description="Always Bundle.")
    type: str = Field(description="The Bundle type, e.g. collection.")
    entry: list[dict[str, Any]] = Field([], description="The resources, with fullUrl.")


class StoredView(Open):
    """A view document as stored (sections keyed by id, referrals included), rebuilt as it
    stood at the instant asked for."""

    client_id: str = Field(description="The client's id.")
    last_position: int | None = Field(None, description="Store position of the last event "
                                                        "folded in.")


class Refusal(Open):
    """A refused attempt to read (401, 403, out of scope), as recorded."""

    at: str = Field(description="When it was refused.")
    who: Person = Field(description="Who asked (an unknown token names nobody).")
    client_id: str | None = Field(None, description="The client asked about, if any.")
    what: str = Field(description="What was asked for.")
    status: int = Field(description="The HTTP-style status answered.")
    reason: str = Field(description="Why it was refused.")
    channel: str = Field(description="http or nats.")
    position: int = Field(description="Position of the record in the store.")


class Refusals(Open):
    """The refused attempts an organisation's auditors may see, oldest first."""

    organisation: str = Field(description="The auditor's organisation.")
    refusals: list[Refusal] = Field(description="Oldest first, at most limit.")
