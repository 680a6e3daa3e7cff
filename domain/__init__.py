"""Care-coordination rules: aggregates, their events and their refusals.

Knows only the standard library and ``eventsourcing.domain``; never NATS, HTTP, SQL,
pydantic contracts or the clock (business time arrives in every command's provenance).
"""
