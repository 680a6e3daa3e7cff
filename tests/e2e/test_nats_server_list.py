"""NATS_URL may list several servers, comma-separated, as a cluster's clients are given it."""

from __future__ import annotations

import pytest

from services.bus.connection import server_list
from services.bus.embedded_nats import EmbeddedNats, free_port
from services.runtime import Runtime
from services.settings import Settings


def test_a_comma_separated_nats_url_is_a_list_of_servers() -> None:
    assert server_list("nats://a:4222, nats://b:4222,,nats://c:4222") == [
        "nats://a:4222", "nats://b:4222", "nats://c:4222"]
    with pytest.raises(ValueError):
        server_list(" , ")


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
async def test_careloop_starts_and_posts_with_a_server_list_whose_first_server_is_away(
    base_settings: Settings, nats_server: EmbeddedNats,
) -> None:
    from services.partners.client import PartnerClient
    from services.partners.demo import example

    away = f"nats://127.0.0.1:{free_port()}"
    settings = base_settings.model_copy(update={"nats_url": f"{away},{nats_server.url}"})
    runtime = await Runtime(settings).start()
    try:
        partner = await PartnerClient.connect(f"{away}, {nats_server.url}", "riverside-ehr",
                                              settings.stream_inbound)
        try:
            receipt = await partner.post(example("client.registered"), timeout=60)
        finally:
            await partner.close()
        assert receipt.status == "accepted"
    finally:
        await runtime.stop()
