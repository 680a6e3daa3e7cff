"""Property: messages from organisations without the authority never change stored state.

A client's history is set up by its custodian (riverside-cmhc) with harbor-housing and
riverside-psych on the care team, a consent, a referral, clinical data. Hypothesis then
sends generated hostile messages: every message type about the client from organisations
with no relationship to them (any role, names differing only in case or suffix), the
custodian's own facts from organisations on the team, clinical facts from team members
who are not clinicians. Every one must be refused, each with an authority rule where one
applies, and the store must be exactly as it was.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.v1.parsing import parse_message
from domain.authority import NotAuthorised
from domain.client import Client
from domain.errors import DomainError, InvalidReferralTransition, NotReferralParty
from services.commands.registry import execute
from services.store.care_app import CareLoop, create_care_app
from tests.helpers import CLIENT_ID, EXAMPLES, message

ROLES = ("clinical-social-worker", "psychiatrist", "housing-advocate", "benefits-advocate",
         "coordinator")
NON_CLINICIANS = ("housing-advocate", "benefits-advocate", "coordinator")
ABOUT_THE_CLIENT = sorted(
    p.stem for p in EXAMPLES.glob("*.json")
    if not p.stem.startswith(("conference.", "client.registered"))
)
CUSTODIAN_ONLY = ("client.demographics_updated", "client.contact_updated", "client.discharged",
                  "care_team.member_added", "consent.recorded", "consent.revoked",
                  "consent.entered_in_error", "consent.activated")
CLINICAL = ("screening.recorded", "risk_review.completed", "risk_flag.raised",
            "diagnosis.recorded", "diagnosis.status_changed", "medication.recorded",
            "medication.stopped", "psychotherapy_note.recorded", "substance_use_treatment.recorded",
            "substance_use_treatment.ended")
NEW_REFERRAL = ("referral.made", "referral.drafted")
STRANGERS = ("bayside-housing", "elsewhere-clinic", "Riverside-CMHC", "riverside-cmhc-2",
             "harbor-housing-annex", "careloop")


def send(app: CareLoop, message_type: str, actor: dict[str, str] | None = None,
         **payload: Any) -> None:
    doc = message(message_type, **payload)
    doc["actor"] = actor or doc["actor"]
    execute(app, parse_message(json.dumps(doc).encode(), doc["source_system"], message_type))


def history() -> CareLoop:
    app = create_care_app({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    send(app, "client.registered")
    send(app, "care_team.member_added")  # ha-207, harbor-housing
    send(app, "care_team.member_added", member_id="psy-77", role="psychiatrist",
         organisation="riverside-psych")
    send(app, "consent.recorded")
    send(app, "referral.made")
    for clinical in ("diagnosis.recorded", "medication.recorded", "screening.recorded",
                     "substance_use_treatment.recorded"):
        send(app, clinical)
    return app


def actor(role: str, organisation: str) -> dict[str, str]:
    return {"id": f"{organisation[:8]}-{role[:4]}-{uuid.uuid4().hex[:4]}", "role": role,
            "organisation": organisation}


hostile = st.one_of(
    st.tuples(st.sampled_from(ABOUT_THE_CLIENT),
              st.builds(actor, st.sampled_from(ROLES), st.sampled_from(STRANGERS))),
    st.tuples(st.sampled_from(CUSTODIAN_ONLY),
              st.builds(actor, st.sampled_from(ROLES),
                        st.sampled_from(("harbor-housing", "riverside-psych")))),
    st.tuples(st.sampled_from(CLINICAL),
              st.builds(actor, st.sampled_from(NON_CLINICIANS),
                        st.sampled_from(("harbor-housing", "riverside-psych", "riverside-cmhc")))),
    st.tuples(st.just("care_team.member_ended"),
              st.builds(actor, st.sampled_from(ROLES), st.just("harbor-housing"))),
)
overrides = st.fixed_dictionaries({}, optional={
    "organisation": st.sampled_from(("harbor-housing", "riverside-cmhc", "bayside-housing")),
    "part2": st.booleans(),
    "member_id": st.sampled_from(("ha-208", "new-member", "ha-207")),
    "recipient_organisations": st.lists(st.sampled_from(STRANGERS), max_size=2),
})


def payload_for(message_type: str, extra: dict[str, Any], acting: dict[str, str]) -> dict[str, Any]:
    fields = message(message_type)["payload"]
    chosen = {k: v for k, v in extra.items() if k in fields}
    if message_type == "care_team.member_ended":
        chosen["member_id"] = "psy-77"  # riverside-psych's member, not harbor-housing's
    if message_type == "consent.recorded":
        chosen["consent_id"] = str(uuid.uuid4())
    if message_type.startswith("referral.") and message_type not in NEW_REFERRAL:
        chosen["referral_id"] = message("referral.made")["payload"]["referral_id"]
    return chosen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(hostile, overrides), min_size=1, max_size=6))
def test_hostile_messages_never_change_stored_state(
        attempts: list[tuple[tuple[str, dict[str, str]], dict[str, Any]]]) -> None:
    app = history()
    head = app.head_position()
    client = app.find(uuid.UUID(CLIENT_ID), Client)
    assert client is not None
    before = (client.version, {k: vars(v).copy() for k, v in client.care_team.items()},
              {k: vars(v).copy() for k, v in client.consents.items()})
    for (message_type, acting), extra in attempts:
        try:
            send(app, message_type, acting, **payload_for(message_type, extra, acting))
        except DomainError as refusal:
            if message_type.startswith("referral.") and message_type not in NEW_REFERRAL:
                assert isinstance(refusal, NotAuthorised | NotReferralParty
                                  | InvalidReferralTransition)
            else:
                assert isinstance(refusal, NotAuthorised), (message_type, acting, refusal)
        else:
            raise AssertionError(f"{message_type} from {acting} was accepted")
        assert app.head_position() == head
    after = app.find(uuid.UUID(CLIENT_ID), Client)
    assert after is not None
    assert (after.version, {k: vars(v) for k, v in after.care_team.items()},
            {k: vars(v) for k, v in after.consents.items()}) == before
