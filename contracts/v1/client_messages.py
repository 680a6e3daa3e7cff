"""Messages about the client as a person."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.v1.envelope import Envelope, Strict


class ClientRegisteredPayload(Strict):
    client_id: UUID = Field(
        description="careloop's id for the client, chosen by the registering system (UUID); "
        "carries no personal data."
    )
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date = Field(description="ISO date of birth.")
    preferred_language: str | None = Field(
        default=None, max_length=35, description="BCP-47 tag, e.g. 'en' or 'es-MX'."
    )


class ClientRegistered(Envelope):
    """A team system registered a client with careloop."""

    message_type: Literal["client.registered"]
    payload: ClientRegisteredPayload


class ClientRef(Strict):
    client_id: UUID = Field(description="The registered client.")


class DemographicsUpdatedPayload(ClientRef):
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date
    preferred_language: str | None = Field(default=None, max_length=35)


class ContactUpdatedPayload(ClientRef):
    address: str | None = Field(default=None, max_length=500, description="Postal address.")
    phone: str | None = Field(default=None, max_length=40)
    safe_contact_method: Literal["phone", "mail", "in-person", "via-coordinator"] = Field(
        description="The one way it is safe to contact the client.")
    may_leave_messages: bool = Field(description="Whether a message may be left on the phone.")
    address_confidential: bool = Field(
        default=False,
        description="Domestic-violence safety: the address is labelled SDV/V and never mailed.")


class DischargedPayload(ClientRef):
    reason: str = Field(min_length=1, max_length=2000)
    discharge_date: date


TeamRole = Literal["clinical-social-worker", "psychiatrist", "housing-advocate",
                   "benefits-advocate", "coordinator"]


class MemberAddedPayload(ClientRef):
    member_id: str = Field(min_length=1, max_length=128, description="The person's id.")
    role: TeamRole = Field(description="Discipline on this client's team.")
    organisation: str = Field(min_length=1, max_length=128)
    period_start: date
    period_end: date | None = None


class MemberEndedPayload(ClientRef):
    member_id: str = Field(min_length=1, max_length=128)
    period_end: date


Purpose = Literal["treatment", "care-coordination"]
Category = Literal["housing", "benefits", "clinical", "psychiatric", "substance-use",
                   "psychotherapy", "conference-minutes"]


class ConsentEvidence(Strict):
    """How careloop knows the consent is the client's own act."""

    signed_by: Literal["client", "legal-representative"] = Field(
        description="Who gave the consent.")
    representative: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="The legal representative's name and capacity (required when they signed).")
    method: Literal["written", "electronic", "verbal-with-witness"]
    witness: str | None = Field(default=None, min_length=1, max_length=200,
                                description="Who witnessed a verbal consent (required then).")
    signed_at: AwareDatetime = Field(description="When it was given, with offset.")
    document_reference: str = Field(
        min_length=1, max_length=256,
        description="The signed form or recording in the sender's system.")


class ConsentRecordedPayload(ClientRef):
    consent_id: UUID
    status: Literal["draft", "active", "rejected"]
    provision: Literal["permit", "deny"]
    recipient_roles: list[TeamRole] = Field(default_factory=list,
                                            description="Recipient classes, by role.")
    recipient_organisations: list[str] = Field(default_factory=list,
                                               description="Named recipient organisations.")
    purposes: list[Purpose] = Field(min_length=1)
    data_categories: list[Category] = Field(min_length=1)
    period_start: date
    period_end: date | None = None
    part2: bool = Field(default=False,
                        description="A 42 CFR Part 2 consent (needed for substance-use data); "
                        "it names its recipient organisations.")
    evidence: ConsentEvidence | None = Field(
        default=None, description="Required for an active or rejected consent; a draft may "
        "get it when activated.")


class ConsentChangePayload(ClientRef):
    consent_id: UUID
    reason: str = Field(default="", max_length=2000)


class ConsentActivatedPayload(ConsentChangePayload):
    evidence: ConsentEvidence | None = Field(
        default=None, description="Required unless the draft was recorded with evidence.")


class ClientDemographicsUpdated(Envelope):
    """The client's name, birth date or language changed."""

    message_type: Literal["client.demographics_updated"]
    payload: DemographicsUpdatedPayload


class ClientContactUpdated(Envelope):
    """How (and whether) the client may safely be contacted changed."""

    message_type: Literal["client.contact_updated"]
    payload: ContactUpdatedPayload


class ClientDischarged(Envelope):
    """The client was discharged from the service; no new facts are accepted after this."""

    message_type: Literal["client.discharged"]
    payload: DischargedPayload


class CareTeamMemberAdded(Envelope):
    """A person joined the client's care team (this defines caseloads)."""

    message_type: Literal["care_team.member_added"]
    payload: MemberAddedPayload


class CareTeamMemberEnded(Envelope):
    """A person's membership of the client's care team ended."""

    message_type: Literal["care_team.member_ended"]
    payload: MemberEndedPayload


class ConsentRecorded(Envelope):
    """The client gave (or refused) consent: who may receive what, for what, when."""

    message_type: Literal["consent.recorded"]
    payload: ConsentRecordedPayload


class ConsentActivated(Envelope):
    """A draft consent became active."""

    message_type: Literal["consent.activated"]
    payload: ConsentActivatedPayload


class ConsentRevoked(Envelope):
    """The client revoked an active consent (reason required)."""

    message_type: Literal["consent.revoked"]
    payload: ConsentChangePayload


class ConsentEnteredInError(Envelope):
    """A consent was recorded by mistake (reason required)."""

    message_type: Literal["consent.entered_in_error"]
    payload: ConsentChangePayload


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "client.registered": ClientRegistered,
    "client.demographics_updated": ClientDemographicsUpdated,
    "client.contact_updated": ClientContactUpdated,
    "client.discharged": ClientDischarged,
    "care_team.member_added": CareTeamMemberAdded,
    "care_team.member_ended": CareTeamMemberEnded,
    "consent.recorded": ConsentRecorded,
    "consent.activated": ConsentActivated,
    "consent.revoked": ConsentRevoked,
    "consent.entered_in_error": ConsentEnteredInError,
}
