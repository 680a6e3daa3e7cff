"""The observability parts on their own: labels stay in closed sets, the stored trace context
leaves untraced events exactly as before, a malformed traceparent is dropped, and the ops
endpoint answers 503 when the loop stops ticking or a component is not ok."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder

from domain.provenance import Actor, Provenance
from services.observability import metrics, tracing
from services.observability.operations import Operations
from services.observability.ops_http import Heartbeat, OpsServer
from services.settings import Settings
from services.store.transcodings import register_careloop_transcodings


def test_a_subject_type_careloop_does_not_know_never_becomes_a_label() -> None:
    assert metrics.message_type_label("referral.made") == "referral.made"
    assert metrics.message_type_label("fhir.referral") == "fhir.referral"
    for hostile in ("jane.doe", "referral.made.x", "", "a" * 300):
        assert metrics.message_type_label(hostile) == "other"
    before = metrics.NATS_QUERY_SECONDS.labels("other", "404")._sum.get()
    metrics.query_answered("jane-doe-1970", {"care_plan": None}, 404, 0.5)
    assert metrics.NATS_QUERY_SECONDS.labels("other", "404")._sum.get() == before + 0.5


def test_retries_are_counted_by_component_and_error_class_never_by_message() -> None:
    relay = metrics.RETRIES.labels("relay", "TimeoutError")
    before = relay._value.get()
    metrics.retried("relay", TimeoutError("client 5f0c9a8e... is slow"))
    assert relay._value.get() == before + 1
    for i in range(60):  # new error classes beyond the bound count as "other"
        metrics.retried("relay", type(f"Error{i}", (Exception,), {})())
    labels = {s.labels["error"] for s in metrics.RETRIES.collect()[0].samples}
    assert "other" in labels and len(labels) <= 41
    assert not any("5f0c9a8e" in name for name in labels)


def _transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    transcoder.register(DatetimeAsISO())
    register_careloop_transcodings(transcoder)
    return transcoder


def test_an_untraced_provenance_is_stored_as_before_and_older_events_still_read() -> None:
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    plain = Provenance(Actor("sw-1", "social-worker", "riverside-cmhc"), at, "riverside-ehr",
                       "m-1", "c-1")
    transcoder = _transcoder()
    encoded = transcoder.encode(plain)
    assert b"trace_context" not in encoded  # the bytes of untraced events did not change
    assert transcoder.decode(encoded) == plain
    traced = Provenance(plain.actor, at, "riverside-ehr", "m-1", "c-1",
                        trace_context=f"00-{'a' * 32}-{'b' * 16}-01")
    assert transcoder.decode(transcoder.encode(traced)) == traced


@pytest.mark.parametrize("header", [
    "Jane Doe", "00-" + "a" * 32 + "-" + "b" * 16, "00-" + "A" * 32 + "-" + "b" * 16 + "-01",
    "00-" + "a" * 32 + "-" + "b" * 16 + "-01 Jane", "", None])
def test_only_a_well_formed_traceparent_is_kept(header: str | None) -> None:
    assert tracing.valid(header) is None
    good = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert tracing.valid(good) == good


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_livez_fails_when_the_event_loop_stops_ticking() -> None:
    beat = Heartbeat()
    server = OpsServer("127.0.0.1", 0, beat.verdict, lambda: (True, {})).start()
    try:
        assert _get(server.url + "/livez")[0] == 200
        beat.at = time.monotonic() - 60  # a loop blocked for a minute
        status, body = _get(server.url + "/livez")
        assert status == 503 and body["event_loop_seconds_since_tick"] >= 60
    finally:
        server.stop()


async def test_readyz_names_a_component_that_is_not_ok(tmp_path: Any) -> None:
    state = {"status": "ok"}
    settings = Settings(_env_file=None, ops_port=0, data_dir=tmp_path)  # type: ignore[call-arg]
    ops = Operations(settings, ("feeds",), None, None, None, None,
                     {"feeds": lambda: dict(state)})
    stop = asyncio.Event()
    await ops.start(stop)
    try:
        assert ops.url is not None
        await asyncio.sleep(0.05)
        assert (await asyncio.to_thread(_get, ops.url + "/readyz"))[0] == 200
        state["status"] = "degraded"
        await asyncio.sleep(1.2)
        status, body = await asyncio.to_thread(_get, ops.url + "/readyz")
        assert status == 503 and body["problems"] == ["feeds is degraded"]
        assert metrics.READY._value.get() == 0
        assert metrics.COMPONENT_OK.labels("feeds")._value.get() == 0
    finally:
        stop.set()
        await asyncio.gather(*ops.tasks)
        ops.close()


def test_tracing_follows_the_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    tracing.configure_from_env("careloop-test")
    assert not tracing.enabled()  # off unless an exporter is named
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "careloop-ingest-eu")
    try:
        tracing.configure_from_env("careloop-test")
        assert tracing.enabled()
        assert tracing._provider is not None
        assert tracing._provider.resource.attributes["service.name"] == "careloop-ingest-eu"
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
        tracing.configure_from_env("careloop-test")
        assert not tracing.enabled()
        monkeypatch.delenv("OTEL_SDK_DISABLED")
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
        with pytest.raises(RuntimeError, match="none, console and otlp"):
            tracing.configure_from_env("careloop-test")
    finally:
        tracing.install(None)


def test_route_templates_drop_convertors_and_keep_mount_prefixes() -> None:
    from types import SimpleNamespace

    from services.observability.access_log import route_template

    def scope(path: str, root: str = "") -> dict[str, Any]:
        return {"route": SimpleNamespace(path=path), "root_path": root}

    assert route_template(scope("/clients/{client_id:uuid}/care-plan")) == (
        "/clients/{client_id}/care-plan")
    assert route_template(scope("/clients/{client_id}/care-plan")) == (
        "/clients/{client_id}/care-plan")
    assert route_template(scope("/clients/{client_id}", "/ui")) == "/ui/clients/{client_id}"
    assert route_template({"path": "/clients/5f0c9a8e"}) == "unmatched"
