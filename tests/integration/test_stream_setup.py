"""Start-up's stream set-up on a shared cluster: a stream already as careloop wants it is
left alone (no needless proposal to every replica from every process that starts), and a
JetStream API timeout is asked again instead of crashing the start."""

from __future__ import annotations

import nats
import nats.errors
import pytest

from services.bus import streams
from services.bus.embedded_nats import EmbeddedNats
from services.bus.streams import ensure_streams, feed_stream_config, stream_configs, unchanged
from services.settings import Settings


async def test_streams_as_wanted_are_unchanged_and_a_changed_one_is_not(
    nats_server: EmbeddedNats,
) -> None:
    settings = Settings(_env_file=None, stream_inbound="SETUP_IN", stream_events="SETUP_EV",  # type: ignore[call-arg]
                        stream_receipts="SETUP_RC", stream_deadletter="SETUP_DL",
                        stream_feed="SETUP_FEED")
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        feed = feed_stream_config(settings, "riverside-cmhc")
        await js.add_stream(feed)
        for config in [*stream_configs(settings), feed]:
            info = await js.stream_info(config.name or "")
            assert unchanged(info.config, config), config.name
        wider = stream_configs(settings.model_copy(update={"stream_replicas": 3}))[0]
        assert not unchanged((await js.stream_info("SETUP_IN")).config, wider)
    finally:
        await nc.close()


async def test_a_setup_step_that_times_out_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    async def busy_then_done() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise nats.errors.TimeoutError

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(streams.asyncio, "sleep", no_wait)
    await streams.patiently("test", busy_then_done)
    assert len(calls) == 3

    monkeypatch.setattr(streams, "SETUP_PATIENCE_SECONDS", 0.0)
    calls.clear()
    with pytest.raises(nats.errors.TimeoutError):
        await streams.patiently("test", busy_then_done)
