"""Conference messages (being built)."""

from __future__ import annotations

from contracts.v1.envelope import Envelope

MESSAGE_TYPES: dict[str, type[Envelope]] = {}
