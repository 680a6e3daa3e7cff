"""The case conference's refusals: each names the rule, and the field where it helps."""

from __future__ import annotations

from domain.errors import DomainError


class ConferenceError(DomainError):
    """A case-conference rule refused the change."""

    code = "conference_rule"


class ConferenceAlreadyExists(ConferenceError):
    """A conference with that id already exists."""

    code = "conference_already_exists"


class ConferenceNotFound(ConferenceError):
    """No conference with that id."""

    code = "conference_not_found"


class InvalidConferenceTransition(ConferenceError):
    """The conference's current state does not allow the requested step."""

    code = "invalid_conference_transition"

    def __init__(self, message: str, status: str, action: str) -> None:
        super().__init__(message, field="payload.conference_id")
        self.status, self.action = status, action


class MinutesSignedOff(InvalidConferenceTransition):
    """After sign-off minutes never change; corrections are addenda."""

    code = "minutes_signed_off"


class NotConvener(ConferenceError):
    """Only the conference's convener may take this step."""

    code = "not_conference_convener"


class NotChair(ConferenceError):
    """Only the conference's chair may take this step."""

    code = "not_conference_chair"


class NotPresent(ConferenceError):
    """Only someone recorded as present may take this step."""

    code = "not_present_at_conference"


class DetailRequired(ConferenceError):
    """A required part of the record is blank or empty (the field says which)."""

    code = "conference_detail_required"


class UnknownCode(ConferenceError):
    """A code in the minutes is not one careloop knows."""

    code = "conference_code_unknown"


class InvitationsRequired(ConferenceError):
    """Scheduling needs invitations."""

    code = "invitations_required"


class ChairNotInvited(ConferenceError):
    """The chair must be among the invitees."""

    code = "chair_not_invited"


class AgendaRequired(ConferenceError):
    """Scheduling needs at least one client on the agenda."""

    code = "agenda_required"


class DuplicateAgendaItem(ConferenceError):
    """That client is already on the agenda."""

    code = "duplicate_agenda_item"


class PreviousConferenceNotFinalized(ConferenceError):
    """The previous conference is not finalized yet."""

    code = "previous_conference_not_finalized"


class AlreadyAttending(ConferenceError):
    """That person's attendance is already recorded."""

    code = "attendance_already_recorded"


class NotOnAgenda(ConferenceError):
    """That client is not on this conference's agenda."""

    code = "client_not_on_agenda"


class AgreementAlreadyRecorded(ConferenceError):
    """The client's agreement to be discussed is already recorded."""

    code = "discussion_agreement_exists"


class AgreementMissing(ConferenceError):
    """The session needs each client's agreement or a safeguarding exception."""

    code = "discussion_agreement_required"


class QuorumNotMet(ConferenceError):
    """The session needs a psychiatrist and at least two other disciplines present."""

    code = "quorum_not_met"


class ItemConcluded(ConferenceError):
    """That agenda item was already discussed or deferred."""

    code = "agenda_item_concluded"


class RationaleRequired(ConferenceError):
    """Every decision needs its rationale."""

    code = "decision_rationale_required"


class DissentNotStated(ConferenceError):
    """Minutes must state dissent, or "none"."""

    code = "dissent_required"


class DuplicateActionItem(ConferenceError):
    """An action item with that id already exists."""

    code = "duplicate_action_item"


class UnknownActionItem(ConferenceError):
    """No action item with that id on this conference."""

    code = "action_item_not_found"


class ItemsOutstanding(ConferenceError):
    """Adjourning needs every agenda item discussed or deferred."""

    code = "agenda_items_outstanding"


class AlreadyReviewed(ConferenceError):
    """That previous action item was already reviewed."""

    code = "previous_action_already_reviewed"


class ActionsUnassigned(ConferenceError):
    """Sign-off needs every action item to have an owner and a due date."""

    code = "action_items_unassigned"


class PreviousActionsUnreviewed(ConferenceError):
    """Sign-off needs the previous conference's action items reviewed."""

    code = "previous_actions_unreviewed"


class DuplicateAddendum(ConferenceError):
    """An addendum with that id already exists."""

    code = "duplicate_addendum"
