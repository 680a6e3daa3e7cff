"""``careloop fhir``: a care plan as a FHIR R4 Bundle, read over NATS like any team system.

The read goes through the running service (``careloop.query.care_plan_fhir``), so the
caller's token decides the view, the same checks apply and the read is recorded.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from nats.aio.client import Client as NATS

from services.api.nats_queries import QUERY_ROOT
from services.bus.connection import server_list


async def ask(url: str, args: dict[str, Any], timeout: float,
              options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``options``: the NATS user, password and TLS of the caller's system."""
    nc = NATS()
    await nc.connect(servers=server_list(url),
                     connect_timeout=max(1, int(timeout)), **(options or {}))
    try:
        reply = await nc.request(f"{QUERY_ROOT}.care_plan_fhir", json.dumps(args).encode(),
                                 timeout=timeout)
        answer: dict[str, Any] = json.loads(reply.data)
        return answer
    finally:
        await nc.close()


def fhir_cmd(
    client_id: Annotated[str, typer.Argument(help="The client's id (UUID).")],
    token: Annotated[str, typer.Option(envvar="CARELOOP_TOKEN",
                                       help="Your access token (`careloop token`).")],
    purpose: Annotated[str | None, typer.Option(help="Why you read; defaults by role.")] = None,
    access: Annotated[str | None, typer.Option(help="'break-glass' after opening it.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for careloop.")] = 10.0,
) -> None:
    """Print your view of a client's care plan as a FHIR R4 Bundle (application/fhir+json)."""
    from services.cli.main import _nats_url
    from services.settings import Settings

    settings = Settings()
    options: dict[str, Any] = {}
    if settings.nats_url:  # a cluster of your own: CARELOOP_NATS_USER/_PASSWORD, _TLS_CA
        from services.bus.connection import connect_options
        options = connect_options(settings)
    args = {"token": token, "client_id": client_id, "purpose": purpose, "access": access}
    answer = asyncio.run(ask(_nats_url(settings), {k: v for k, v in args.items() if v},
                             timeout, options))
    if answer.get("status") != 200:
        typer.echo(f"{answer.get('status')}: {answer.get('detail')}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(answer["body"], indent=2))
