"""What careloop sets up on the bus for each registered partner system: its durable pull
consumer on the receipts stream (its own receipts only), and for every organisation it
speaks for, that organisation's feed stream and the system's durable consumer on it.

Partners may not create consumers themselves (see ``services.bus.permissions``), so these
are the consumers they read through; each is named after the system.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from services.bus.streams import (
    ensure_partner_consumer,
    ensure_stream,
    feed_stream,
    feed_stream_config,
    feed_subjects,
    receipts_subject,
)
from services.partners.registry import PartnerRegistry
from services.settings import Settings


def feed_organisations(registry: PartnerRegistry) -> set[str]:
    """Organisations with a feed: those a registered system speaks for."""
    return {org for partner in registry.partners.values() for org in partner.organisations}


async def ensure_partner_access(js: JetStreamContext, settings: Settings,
                                registry: PartnerRegistry) -> None:
    for org in sorted(feed_organisations(registry)):
        await ensure_stream(js, feed_stream_config(settings, org))
    for system, partner in sorted(registry.partners.items()):
        await ensure_partner_consumer(js, settings.stream_receipts, system,
                                      receipts_subject(system))
        for org in sorted(partner.organisations):
            await ensure_partner_consumer(js, feed_stream(settings, org), system,
                                          feed_subjects(org))
