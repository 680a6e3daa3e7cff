"""How careloop's own processes authenticate to NATS: their user and password, and TLS
with the CA that signed the server (and a client certificate where the server asks)."""

from __future__ import annotations

import ssl
from typing import Any

import structlog
from faststream.nats.security import NatsSecurity, NatsUserPassword

from services.settings import Settings


def server_list(url: str) -> list[str]:
    """``NATS_URL`` may name several servers, comma-separated (a cluster): nats-py takes a
    list, and would read a comma-joined string as one address with a bad port."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError("NATS_URL names no server")
    return servers

def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.nats_tls_ca is None and settings.nats_tls_cert is None:
        return None
    context = ssl.create_default_context(
        cafile=str(settings.nats_tls_ca) if settings.nats_tls_ca else None)
    if settings.nats_tls_cert is not None:
        context.load_cert_chain(
            str(settings.nats_tls_cert),
            str(settings.nats_tls_key) if settings.nats_tls_key else None)
    return context


log = structlog.get_logger("careloop.nats")


async def report_error(error: Exception) -> None:
    """One short line per connection problem: nats-py's default logs a full traceback on
    every reconnect attempt, which floods the log (and slows everything) while NATS is away."""
    log.warning("nats_connection_problem", error=type(error).__name__, detail=str(error)[:200])


def connect_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect`` (credentials never go into URLs or logs)."""
    options: dict[str, Any] = {"error_cb": report_error}
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options


def broker_security(settings: Settings) -> NatsSecurity | None:
    """The same, for FastStream's broker."""
    context = tls_context(settings)
    if settings.nats_user:
        return NatsUserPassword(settings.nats_user, settings.nats_password, ssl_context=context)
    if context is not None:
        return NatsSecurity(ssl_context=context)
    return None


class CredentialsRefused(RuntimeError):
    """NATS refused careloop's user: retrying would not help."""


async def check_credentials(url: str, settings: Settings) -> None:
    """One connection attempt without retries: a refused user or password fails the start
    with a clear error (the service's own connection retries for ever, which suits a NATS
    that is away, not credentials that are wrong). Anything else is left to that retry."""
    import nats

    async def quiet(error: Exception) -> None:
        pass

    try:
        nc = await nats.connect(server_list(url), allow_reconnect=False, max_reconnect_attempts=0,
                                connect_timeout=5, **{**connect_options(settings),
                                                      "error_cb": quiet})
    except Exception as e:
        if "authorization" in str(e).lower():
            raise CredentialsRefused(
                "NATS refused careloop's credentials: check CARELOOP_NATS_USER and "
                "CARELOOP_NATS_PASSWORD") from None
        return
    await nc.close()
