"""Refusals the domain can give, each with the facts needed to explain it to the sender."""

from __future__ import annotations


class DomainError(Exception):
    """A rule refused a command. ``code`` is machine-readable, ``str(self)`` is for people."""

    code = "domain_rule"
    rule: str | None = None
    """The named rule broken, when it is more than the code (receipts show it)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ClientAlreadyRegistered(DomainError):
    """A client with that id is already registered."""

    code = "client_already_registered"


class ClientNotRegistered(DomainError):
    """No client with that id is registered."""

    code = "client_not_registered"


class ClientDischarged(DomainError):
    """The client is discharged; no new facts are accepted."""

    code = "client_discharged"


class ReferralAlreadyExists(DomainError):
    """A referral with that id already exists."""

    code = "referral_already_exists"


class ReferralNotFound(DomainError):
    """No referral with that id."""

    code = "referral_not_found"


class InvalidReferralTransition(DomainError):
    """The referral's current state does not allow the requested step."""

    code = "invalid_referral_transition"

    def __init__(self, referral_id: object, status: str, action: str, allowed_from: list[str]):
        allowed = ", ".join(allowed_from) or "no state"
        super().__init__(
            f"referral {referral_id} is '{status}'; '{action}' is allowed only from {allowed}",
            field="payload.referral_id",
        )
        self.status = status
        self.action = action


class NotReferralParty(DomainError):
    """The actor's organisation is not the side of the referral that may take this step."""

    code = "not_referral_party"


class OutcomeAlreadyAcknowledged(DomainError):
    """The referral's outcome was already acknowledged."""

    code = "outcome_already_acknowledged"


class MissingReason(DomainError):
    """This step needs a reason."""

    code = "reason_required"
