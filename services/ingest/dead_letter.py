"""The dead-letter stream: inbound messages careloop could not process, kept with the reason.

The original bytes, subject and headers are kept, with ``Careloop-Original-Subject``,
``Careloop-Original-Sequence``, ``Careloop-Deliveries`` (attempts made) and
``Careloop-Reason``. The ``Nats-Msg-Id`` makes a repeated dead-lettering of the same inbound
sequence (after a crash) one entry, within the stream's duplicate window.
"""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.bus.streams import deadletter_subject


def one_line(text: str, limit: int = 1000) -> str:
    return text.replace("\r", " ").replace("\n", " ")[:limit]


async def dead_letter(js: JetStreamContext, stream: str, raw: Msg, sequence: int,
                      attempts: int, reason: str) -> None:
    headers = {k: v for k, v in (raw.headers or {}).items() if not k.startswith("Nats-")}
    headers.update({
        "Careloop-Original-Subject": raw.subject,
        "Careloop-Original-Sequence": str(sequence),
        "Careloop-Deliveries": str(attempts),
        "Careloop-Reason": one_line(reason),
        "Nats-Msg-Id": f"careloop-deadletter-{sequence}",
    })
    await js.publish(deadletter_subject(raw.subject), raw.data, stream=stream, headers=headers,
                     timeout=10)
