"""OpenTelemetry traces across careloop, carried as W3C ``traceparent``.

The partner client puts ``traceparent`` on the NATS message it publishes; ingest continues
the trace (one span per message applied) and stores the context in the events' provenance
(``Provenance.trace_context``: durable, and no stored class changes); the relay starts a
span from it and puts its own ``traceparent`` on the outbound event's headers; the
projector continues from there. With tracing off (the default) nothing is recorded, but a
``traceparent`` a partner sent is still stored and passed on unchanged, so a partner's own
tracing can follow its message.

Configured by the standard environment: ``OTEL_TRACES_EXPORTER`` = ``none`` (default),
``console`` or ``otlp`` (needs the ``careloop[otlp]`` extra; ``OTEL_EXPORTER_OTLP_*`` say
where), ``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``/``_ARG``. careloop keeps its own
tracer provider (not the process-global one), so tests can install an in-memory one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
_VALID = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_inbound: ContextVar[Mapping[tuple[str, str], str] | None] = ContextVar(
    "careloop_inbound_traces", default=None)


def install(provider: TracerProvider | None) -> None:
    """Use ``provider`` for careloop's spans (None: tracing off)."""
    global _provider
    _provider = provider


def enabled() -> bool:
    return _provider is not None


def configure_from_env(service_name: str) -> None:
    """Set up tracing as the OTEL_* environment says; off unless an exporter is named."""
    shutdown()  # a provider set up before (its exporter's thread) is done with
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "none").strip().lower()
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or exporter_name in ("", "none"):
        install(None)
        return
    exporter: Any
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as e:  # pragma: no cover - depends on the optional extra
            raise RuntimeError("OTEL_TRACES_EXPORTER=otlp needs `pip install "
                               "careloop[otlp]`") from e
        exporter = OTLPSpanExporter()
    else:
        raise RuntimeError(f"OTEL_TRACES_EXPORTER={exporter_name!r}: careloop knows none, "
                           "console and otlp")
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)


def shutdown() -> None:
    if _provider is not None:
        _provider.shutdown()


def _tracer() -> trace.Tracer:
    assert _provider is not None
    return _provider.get_tracer("careloop")


def valid(traceparent: str | None) -> str | None:
    """A well-formed W3C traceparent, or None (anything else a sender put there is dropped:
    it is never stored or passed on)."""
    if traceparent and len(traceparent) == 55 and _VALID.match(traceparent):
        return traceparent
    return None


def _parent(traceparent: str | None) -> Context | None:
    return _propagator.extract({TRACEPARENT: traceparent}) if traceparent else None


def _header_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT)


def start(name: str, kind: SpanKind, parent: str | None,
          attributes: Mapping[str, Any] | None = None) -> Span | None:
    """A started span under ``parent`` (a traceparent), or None when tracing is off."""
    if _provider is None:
        return None
    return _tracer().start_span(name, context=_parent(parent), kind=kind,
                                attributes=dict(attributes or {}))


def traceparent_of(span: Span | None, fallback: str | None) -> str | None:
    """The header to pass on: the span's own context, or (tracing off) what came in."""
    return _header_of(span) if span is not None else fallback


def publish_headers(source_system: str, message_type: str) -> tuple[dict[str, str], Span | None]:
    """A partner's publish: its span (when tracing is on) and the headers carrying it; a
    context already current in the caller (its own OpenTelemetry set-up) is carried too."""
    span = start("careloop.partner.publish", SpanKind.PRODUCER, None,
                 {"messaging.system": "nats", "careloop.source_system": source_system,
                  "careloop.message_type": message_type})
    headers: dict[str, str] = {}
    if span is not None:
        _propagator.inject(headers, trace.set_span_in_context(span))
    else:
        _propagator.inject(headers)
    return headers, span


def query_span(query: str, headers: Mapping[str, str] | None) -> Span | None:
    """A NATS query's span, continuing the caller's ``traceparent`` (tracing on only)."""
    if _provider is None:
        return None
    parent = valid(headers.get(TRACEPARENT)) if headers else None
    return start(f"careloop.query.{query}", SpanKind.SERVER, parent)


def end(span: Span | None, **attributes: Any) -> None:
    if span is not None:
        if attributes:
            span.set_attributes(attributes)
        span.end()


class InboundSpans:
    """Ingest's spans for one round of messages being applied, and the trace context each
    message's events store (read by ``trace_context_for`` inside ``apply_batch``)."""

    def __init__(self, deliveries: Sequence[Any]) -> None:
        self.contexts: dict[tuple[str, str], str] = {}
        self.spans: list[tuple[Any, Span]] = []
        for d in deliveries:
            incoming = valid((d.raw.headers or {}).get(TRACEPARENT)) if d.raw.headers else None
            if d.message is None or (incoming is None and _provider is None):
                continue
            span = start("careloop.ingest.apply", SpanKind.CONSUMER, incoming, {
                "messaging.system": "nats", "careloop.message_type": d.message_type,
                "careloop.inbound_sequence": d.sequence})
            header = traceparent_of(span, incoming)
            if span is not None:
                self.spans.append((d, span))
            if header is not None:
                self.contexts[(d.message.source_system, d.message.message_id)] = header

    @contextlib.contextmanager
    def current(self) -> Iterator[None]:
        """While applying: ``asyncio.to_thread`` copies this into the worker thread."""
        token = _inbound.set(self.contexts or None)
        try:
            yield
        finally:
            _inbound.reset(token)

    def finish(self) -> None:
        for d, span in self.spans:
            span.set_attribute("careloop.outcome", type(d.result).__name__)
            span.end()


def trace_context_for(source_system: str, message_id: str) -> str | None:
    """The trace context the events of this inbound message store (None: untraced)."""
    found = _inbound.get()
    return None if found is None else found.get((source_system, message_id))


def put_traceparent(headers: dict[str, str], trace_context: str | None,
                    event_type: str) -> None:
    """The ``traceparent`` of one outbound event: the stored context, or (tracing on) a short
    publish span's under it. Untraced events carry none."""
    if trace_context is None:
        return
    span = start("careloop.relay.publish", SpanKind.PRODUCER, trace_context,
                 {"messaging.system": "nats", "careloop.event_type": event_type})
    header = traceparent_of(span, trace_context)
    end(span)
    if header is not None:
        headers[TRACEPARENT] = header


def projector_spans(msgs: Sequence[Any], projection: str) -> list[Span]:
    """One span per traced event of a batch being applied to the views."""
    if _provider is None:
        return []
    spans = []
    for m in msgs:
        parent = valid((m.headers or {}).get(TRACEPARENT)) if m.headers else None
        if parent is not None:
            spans.append(_tracer().start_span(
                "careloop.projector.apply", context=_parent(parent), kind=SpanKind.CONSUMER,
                attributes={"careloop.projection": projection,
                            "careloop.stream_seq": m.metadata.sequence.stream}))
    return spans


def end_all(spans: Sequence[Span]) -> None:
    for span in spans:
        span.end()
