"""Business-day arithmetic for response deadlines (Monday to Friday; no holiday calendar yet)."""

from __future__ import annotations

from datetime import date, timedelta

SOFT_RESPONSE_DAYS = 2
"""The recipient should respond within 2 business days…"""
HARD_RESPONSE_DAYS = 14
"""…and must within 14."""


def add_business_days(start: date, days: int) -> date:
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
