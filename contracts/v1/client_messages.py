"""Messages about the client as a person."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

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
