"""Processes that wire the domain and projections to NATS, the databases and HTTP."""
