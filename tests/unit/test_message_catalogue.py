"""Every message type in the catalogue has exactly one handler, and vice versa."""

from __future__ import annotations

from contracts.v1.catalogue import MESSAGE_TYPES
from services.commands.registry import HANDLERS


def test_every_message_type_is_handled_and_every_handler_has_a_contract() -> None:
    assert set(HANDLERS) == set(MESSAGE_TYPES)


def test_message_types_match_their_models() -> None:
    for name, model in MESSAGE_TYPES.items():
        assert model.model_fields["message_type"].annotation.__args__ == (name,)  # type: ignore[union-attr]
