"""What a partner system does to replay its organisation's feed from a point: read each
message still in the feed stream by sequence (direct get), with its own credentials."""

from __future__ import annotations

import json
from typing import Any

import nats
from nats.js.errors import NotFoundError

from services.bus.connection import report_error, server_list
from services.bus.streams import feed_stream
from services.settings import Settings


async def replay(url: str, settings: Settings, organisation: str, from_seq: int = 1,
                 options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every message of the feed from ``from_seq`` on, each with its ``seq``; a sequence
    whose message was replaced by a newer rendering is skipped."""
    nc = await nats.connect(server_list(url), **{"connect_timeout": 5, "max_reconnect_attempts": 3,
                                    "error_cb": report_error, **(options or {})})
    try:
        js = nc.jetstream(timeout=10)
        stream = feed_stream(settings, organisation)
        last = (await js.stream_info(stream)).state.last_seq
        out = []
        for seq in range(max(from_seq, 1), last + 1):
            try:
                msg = await js.get_msg(stream, seq=seq, direct=True)
            except NotFoundError:
                continue
            out.append({"seq": seq, **json.loads(msg.data or b"{}")})
        return out
    finally:
        await nc.close()
