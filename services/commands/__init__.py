"""Validated inbound messages turned into domain commands: one handler module per area, applied in batches."""
