"""Fixtures of the end-to-end tests."""

from tests.e2e.inbound_partner import partner

__all__ = ["partner"]
