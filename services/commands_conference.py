"""Conference messages → their aggregates (being built)."""

from __future__ import annotations

from services.command_support import Handler

HANDLERS: dict[str, Handler] = {}
