"""Messages that take a case conference from draft to signed-off minutes (docs/domain.md).

``draft → scheduled → in-session → adjourned → finalized``; ``draft|scheduled → cancelled``;
any → ``entered-in-error``. Per agenda item: information shared by discipline, a risk
review, decisions with rationale, dissent (or "none"), and action items that become tasks
on the client's care plan when the chair signs off.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts.v1.envelope import ActorRef, Envelope, Strict

Discipline = Literal[
    "psychiatry", "clinical-social-work", "housing", "benefits", "care-coordination"
]
NeedDomain = Literal["clinical", "housing", "benefits", "psychosocial", "substance-use"]

CONFERENCE_ID = Field(description="The conference's id (UUID), chosen by the convener.")
CLIENT_ID = Field(description="The client whose agenda item this is (on the agenda).")
REASON = Field(min_length=1, max_length=2000, description="Why, in words the team reads.")
NOTE = Field(default="", max_length=2000, description="Anything the minutes should add.")
DISCIPLINE = Field(description="The discipline that spoke (psychiatry is the medical one).")


class ConferenceRef(Strict):
    conference_id: UUID = CONFERENCE_ID


class AgendaItemRef(ConferenceRef):
    client_id: UUID = CLIENT_ID


class WithReason(ConferenceRef):
    reason: str = REASON


class ConferenceDraftedPayload(ConferenceRef):
    title: str = Field(min_length=1, max_length=200,
                       description="What the conference is, e.g. 'North team monthly MDT'.")


class ConferenceScheduledPayload(ConferenceRef):
    chair: ActorRef = Field(description="Who chairs and signs off; must be among the invitations.")
    scheduled_for: AwareDatetime = Field(description="When it meets, with offset.")
    agenda: list[UUID] = Field(
        max_length=50,
        description="Registered, not discharged clients to discuss, one agenda item each. May "
        "be empty only if the previous conference hands over deferred items.")
    invitations: list[ActorRef] = Field(min_length=1, max_length=50,
                                        description="Everyone invited, the chair included.")
    previous_conference_id: UUID | None = Field(
        default=None,
        description="The finalized conference before this one: its deferred items join this "
        "agenda and its action items must be reviewed here before sign-off.")


class AttendanceRecordedPayload(ConferenceRef):
    attendees: list[ActorRef] = Field(
        min_length=1, max_length=50,
        description="People present (the chair is present by chairing); their roles give the "
        "disciplines counted for the quorum.")


class DiscussionAgreedPayload(AgendaItemRef):
    method: Literal["verbal", "written", "via-representative"] = Field(
        description="How the client agreed to be discussed.")
    note: str = NOTE


class SafeguardingExceptionPayload(AgendaItemRef):
    reason: str = Field(min_length=1, max_length=2000,
                        description="The safeguarding concern that justifies discussing the "
                        "client without their agreement.")


class InformationShared(Strict):
    discipline: Discipline = DISCIPLINE
    summary: str = Field(min_length=1, max_length=4000, description="What was shared.")
    sensitive_topic: Literal["substance-use", "domestic-violence"] | None = Field(
        default=None, description="Marks content that carries extra security labels "
        "(substance use: 42 CFR Part 2; domestic violence: SDV).")


class RiskReview(Strict):
    level: Literal["low", "moderate", "high", "imminent"] = Field(
        description="The risk level agreed.")
    summary: str = Field(min_length=1, max_length=4000,
                         description="The review; restricted to the clinical team (PSY).")


class Decision(Strict):
    decision: str = Field(min_length=1, max_length=2000, description="What was decided.")
    rationale: str = Field(min_length=1, max_length=2000, description="Why.")


class Dissent(Strict):
    discipline: Discipline = DISCIPLINE
    view: str = Field(min_length=1, max_length=2000, description="The dissenting view.")


class ActionItem(Strict):
    action_item_id: UUID = Field(description="The action item's id (UUID), new per conference.")
    title: str = Field(min_length=1, max_length=500, description="What is to be done.")
    domain: NeedDomain = Field(description="The care-plan need domain the task belongs to.")
    owner: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="Who does it; may be named later with conference.action_item_assigned.")
    due: date | None = Field(default=None, description="By when; may be set later too.")


class ItemDiscussedPayload(AgendaItemRef):
    information_shared: list[InformationShared] = Field(
        min_length=1, max_length=20, description="What each discipline brought to the item.")
    risk_review: RiskReview = Field(description="The risk review every discussed item has.")
    decisions: list[Decision] = Field(min_length=1, max_length=20,
                                      description="Decisions, each with its rationale.")
    dissent: Literal["none"] | Annotated[list[Dissent], Field(min_length=1, max_length=20)] = (
        Field(description="Who dissented and why, or exactly 'none'."))
    action_items: list[ActionItem] = Field(
        default_factory=list, max_length=20,
        description="Actions agreed; each becomes a task on the client's care plan at sign-off.")


class ItemDeferredPayload(AgendaItemRef):
    reason: str = REASON


class ActionItemAssignedPayload(ConferenceRef):
    action_item_id: UUID = Field(description="An action item of this conference.")
    owner: str = Field(min_length=1, max_length=128, description="Who does it.")
    due: date = Field(description="By when.")


class PreviousActionReviewedPayload(ConferenceRef):
    action_item_id: UUID = Field(description="An action item of the previous conference.")
    outcome: Literal["done", "in-progress", "not-done", "no-longer-needed"] = Field(
        description="What became of it.")
    note: str = NOTE


class AddendumAddedPayload(ConferenceRef):
    addendum_id: UUID = Field(description="The addendum's id (UUID).")
    client_id: UUID | None = Field(
        default=None, description="The agenda item it corrects; omit for the whole minutes.")
    text: str = Field(min_length=1, max_length=4000, description="The correction.")


class ConferenceDrafted(Envelope):
    """A convener drafts a case conference (→ draft)."""

    message_type: Literal["conference.drafted"]
    payload: ConferenceDraftedPayload


class ConferenceScheduled(Envelope):
    """The convener sets chair, time, agenda and invitations (draft → scheduled)."""

    message_type: Literal["conference.scheduled"]
    payload: ConferenceScheduledPayload


class AttendanceRecorded(Envelope):
    """The convener records who is present (scheduled or in-session)."""

    message_type: Literal["conference.attendance_recorded"]
    payload: AttendanceRecordedPayload


class DiscussionAgreed(Envelope):
    """A client on the agenda agreed to be discussed (scheduled)."""

    message_type: Literal["conference.discussion_agreed"]
    payload: DiscussionAgreedPayload


class SafeguardingExceptionRecorded(Envelope):
    """A client is discussed without agreement, for a documented safeguarding reason."""

    message_type: Literal["conference.safeguarding_exception_recorded"]
    payload: SafeguardingExceptionPayload


class SessionStarted(Envelope):
    """The chair opens the session once quorate and agreed (scheduled → in-session)."""

    message_type: Literal["conference.session_started"]
    payload: ConferenceRef


class ItemDiscussed(Envelope):
    """An agenda item's minutes: information, risk review, decisions, dissent, actions."""

    message_type: Literal["conference.item_discussed"]
    payload: ItemDiscussedPayload


class ItemDeferred(Envelope):
    """An agenda item is put off to the next conference, with a reason (in-session)."""

    message_type: Literal["conference.item_deferred"]
    payload: ItemDeferredPayload


class ActionItemAssigned(Envelope):
    """An action item gets (or changes) its owner and due date before sign-off."""

    message_type: Literal["conference.action_item_assigned"]
    payload: ActionItemAssignedPayload


class Adjourned(Envelope):
    """The chair closes the session, every item discussed or deferred (→ adjourned)."""

    message_type: Literal["conference.adjourned"]
    payload: ConferenceRef


class PreviousActionReviewed(Envelope):
    """An action item of the previous conference was reviewed."""

    message_type: Literal["conference.previous_action_reviewed"]
    payload: PreviousActionReviewedPayload


class Finalized(Envelope):
    """The chair signs off the minutes; action items become care-plan tasks (→ finalized)."""

    message_type: Literal["conference.finalized"]
    payload: ConferenceRef


class AddendumAdded(Envelope):
    """A correction to signed-off minutes, which never change themselves (finalized)."""

    message_type: Literal["conference.addendum_added"]
    payload: AddendumAddedPayload


class ConferenceCancelled(Envelope):
    """The convener calls it off before it meets (draft|scheduled → cancelled)."""

    message_type: Literal["conference.cancelled"]
    payload: WithReason


class ConferenceEnteredInError(Envelope):
    """The convener withdraws a conference recorded by mistake (→ entered-in-error)."""

    message_type: Literal["conference.entered_in_error"]
    payload: WithReason


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    "conference.drafted": ConferenceDrafted,
    "conference.scheduled": ConferenceScheduled,
    "conference.attendance_recorded": AttendanceRecorded,
    "conference.discussion_agreed": DiscussionAgreed,
    "conference.safeguarding_exception_recorded": SafeguardingExceptionRecorded,
    "conference.session_started": SessionStarted,
    "conference.item_discussed": ItemDiscussed,
    "conference.item_deferred": ItemDeferred,
    "conference.action_item_assigned": ActionItemAssigned,
    "conference.adjourned": Adjourned,
    "conference.previous_action_reviewed": PreviousActionReviewed,
    "conference.finalized": Finalized,
    "conference.addendum_added": AddendumAdded,
    "conference.cancelled": ConferenceCancelled,
    "conference.entered_in_error": ConferenceEnteredInError,
}
