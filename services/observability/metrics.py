"""careloop's Prometheus metrics, and the cheap hooks the hot paths call to move them.

Every label comes from a closed set (known message types, receipt statuses, route
templates, query names, channels): nothing a partner or a caller sends can create a new
series, and no label ever holds a client id, a name or free text. Hot paths count once per
batch (a ``collections.Counter`` first, then one ``inc`` per distinct label set).

The metrics live in the process's default registry (beside the client library's process
and garbage-collector metrics); ``/metrics`` on the API app and on the ops port serve it.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from contracts.v1.catalogue import MESSAGE_TYPES
from domain.errors import DomainError
from services.fhir.inbound import TRANSLATORS as FHIR_TYPES
from services.store.care_app import Outcome

if TYPE_CHECKING:
    from services.ingest.consumer import Delivery

INBOUND = Counter(
    "careloop_inbound_messages", "Inbound messages settled (answered and acknowledged), by "
    "type and outcome: accepted, duplicate, rejected (contract or registry), refused (a "
    "domain rule), failed (dead-lettered).", ["message_type", "outcome"])
RECEIPTS = Counter("careloop_receipts_published", "Receipts published to partners, by status.",
                   ["status"])
DEAD_LETTERS = Counter("careloop_dead_letters", "Inbound messages set aside on the "
                       "dead-letter stream after repeated failures.")
INGEST_BATCHES = Counter("careloop_ingest_batches", "Inbound batches applied.")
RELAY_PUBLISHED = Counter("careloop_relay_events_published", "Stored events the relay "
                          "published to the events stream.")
PROJECTED = Counter("careloop_projector_events_applied", "Events applied to the views "
                    "(including quarantined ones, whose position still moves).", ["projection"])
QUARANTINED = Counter("careloop_projection_quarantined", "Events a projection set aside "
                      "(quarantine) instead of stalling.", ["projection"])
FEED_VIEWS = Counter("careloop_feed_views_published", "Role views published on partner "
                     "organisations' feed streams.")
DISCLOSURES = Counter("careloop_disclosures_recorded", "Reads recorded in the read log before "
                      "their data left careloop, by channel.", ["channel"])
REFUSALS = Counter("careloop_access_refusals", "Refused read attempts recorded, by channel "
                   "and status.", ["channel", "status"])
HTTP_SECONDS = Histogram(
    "careloop_http_request_duration_seconds", "HTTP requests by method, route template "
    "(never the concrete path) and status.", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
NATS_QUERY_SECONDS = Histogram(
    "careloop_nats_query_duration_seconds", "Queries over NATS request/reply, by query name "
    "and status.", ["query", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
RETRIES = Counter(
    "careloop_component_retries", "Times a component hit trouble it retries (NATS or the "
    "database away, a lost acknowledgement, a concurrent writer), by component and error "
    "class.", ["component", "error"])
COMPONENT_OK = Gauge("careloop_component_ok", "1 while a component of this process reports "
                     "ok (the report /health and /readyz read), 0 while degraded.",
                     ["component"])
INGEST_PENDING = Gauge("careloop_ingest_pending_messages", "Inbound messages not yet "
                       "acknowledged by ingest (delivered or waiting), sampled.")
RELAY_LAG = Gauge("careloop_relay_lag_events", "Store positions after the last published "
                  "one (store head minus relay position), sampled.")
PROJECTOR_PENDING = Gauge("careloop_projector_pending_events", "Events on the events stream "
                          "not yet in the views, sampled.", ["projection"])
STORE_HEAD = Gauge("careloop_store_head_position", "The event store's last position, sampled.")
LAG_SAMPLED = Gauge("careloop_lag_sampled_timestamp_seconds", "When the lag gauges of this "
                    "process were last sampled (a stale value means the sampler is stuck).")
READY = Gauge("careloop_ready", "1 while this process's components report ok (its /readyz).")

KNOWN_TYPES = frozenset(MESSAGE_TYPES) | frozenset(FHIR_TYPES)


def message_type_label(message_type: str) -> str:
    """A subject's type as a label: anything careloop does not know is ``other``."""
    return message_type if message_type in KNOWN_TYPES else "other"


def _outcome(d: Delivery) -> tuple[str, str]:
    """(outcome, receipt status) of an answered delivery."""
    if d.rejection is not None:
        return "rejected", "rejected"
    if isinstance(d.result, Outcome):
        return ("duplicate" if d.result.duplicate else "accepted"), "accepted"
    if isinstance(d.result, DomainError):
        return "refused", "rejected"
    return "failed", "rejected"


def ingest_settled(deliveries: Sequence[Delivery]) -> None:
    """One batch answered: count each acknowledged delivery once."""
    outcomes: Tally[tuple[str, str]] = Tally()
    statuses: Tally[str] = Tally()
    for d in deliveries:
        if not d.acked:
            continue
        outcome, status = _outcome(d)
        outcomes[(d.message_type, outcome)] += 1
        statuses[status] += 1
    for (kind, outcome), n in outcomes.items():
        INBOUND.labels(message_type_label(kind), outcome).inc(n)
    for status, n in statuses.items():
        RECEIPTS.labels(status).inc(n)
    INGEST_BATCHES.inc()


_ERRORS = 40
"""Distinct error classes counted per component before the rest count as ``other``."""
_seen_errors: set[str] = set()


def retried(component: str, error: object) -> None:
    """A component's retry; the label is the error's class name (never its message)."""
    name = type(error).__name__
    if name not in _seen_errors:
        if len(_seen_errors) >= _ERRORS:
            name = "other"
        else:
            _seen_errors.add(name)
    RETRIES.labels(component, name).inc()


def disclosures_recorded(channels: Iterable[str]) -> None:
    for channel, n in Tally(channels).items():
        DISCLOSURES.labels(channel).inc(n)


def refusal_recorded(channel: str, status: int) -> None:
    REFUSALS.labels(channel, str(status)).inc()


def projected(projection: str, count: int) -> None:
    PROJECTED.labels(projection).inc(count)


def quarantined(projection: str) -> None:
    QUARANTINED.labels(projection).inc()


def query_answered(name: str, known: Any, status: int, seconds: float) -> None:
    NATS_QUERY_SECONDS.labels(name if name in known else "other", str(status)).observe(seconds)
