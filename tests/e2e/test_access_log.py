"""The HTTP access log, as production writes it (JSON lines through ``configure_logging``):
one line per request with the route template, status, duration and correlation id, and
nothing that names a client: no client id (though the handlers bind one for their own
lines), no query string, no header. /metrics on the API app can require a token."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog

from services.cli.structured_logging import configure_logging
from services.runtime import Runtime
from services.settings import Settings
from tests.helpers import CLIENT_ID, bearer


@pytest.fixture
def production_logging() -> Iterator[io.StringIO]:
    """careloop's own logging set-up, writing into a buffer instead of stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json", "INFO")
    written = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=written))
    yield written
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def access_lines(err: str) -> list[dict[str, Any]]:
    lines = []
    for line in err.splitlines():
        if line.startswith("{") and '"http_request"' in line:
            lines.append(json.loads(line))
    return lines


@pytest.mark.parametrize("store_kind", ["sqlite"])
async def test_the_access_log_names_route_templates_and_never_a_client(
    settings: Settings, production_logging: io.StringIO) -> None:
    settings = settings.model_copy(update={"metrics_token": "scrape-me"})
    runtime = await Runtime(settings, components=("api",)).start()
    mine = str(uuid.uuid4())
    try:
        async with httpx.AsyncClient(base_url=runtime.http_url or "", timeout=10) as http:
            who = bearer(runtime.token_secret or "")
            plan = await http.get(f"/clients/{CLIENT_ID}/care-plan?access=break-glass",
                                  headers={**who, "X-Correlation-Id": mine})
            await http.get(f"/clients/{CLIENT_ID}/fhir", headers=who)
            await http.get("/worklists/open-referrals",
                           params={"client_id": CLIENT_ID, "party": "Jane Doe"}, headers=who)
            named = await http.get(f"/clients/{CLIENT_ID}/care-plan",
                                   headers={**who, "X-Correlation-Id": "Jane Doe"})
            await http.get(f"/no-such-page/{CLIENT_ID}")
            await http.get(f"/ui/clients/{CLIENT_ID}")
            await http.post(f"/clients/{CLIENT_ID}/break-glass", headers=who,
                            json={"reason": "Jane Doe is in crisis at the front desk"})
            refused = await http.get("/metrics")
            scraped = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    finally:
        await runtime.stop()
    err = production_logging.getvalue()

    lines = access_lines(err)
    assert len(lines) == 9, err[-3000:]
    assert {line["route"] for line in lines} >= {
        "/clients/{client_id}/care-plan", "/clients/{client_id}/fhir", "/worklists/{name}",
        "unmatched", "/metrics", "/clients/{client_id}/break-glass"}
    for line in lines:
        assert set(line) <= {"event", "method", "route", "status", "duration_ms",
                             "correlation_id", "level", "timestamp"}, line
        uuid.UUID(line["correlation_id"])
    text = json.dumps(lines)
    assert CLIENT_ID not in text and "Jane" not in text and "?" not in text
    # The break-glass handler's own line carries the client id it bound: the access line
    # after it does not.
    assert any(CLIENT_ID in line for line in err.splitlines() if "break_glass_opened" in line)
    # A caller's UUID correlation id is kept and answered; anything else is replaced.
    assert plan.headers["x-correlation-id"] == mine == lines[0]["correlation_id"]
    assert named.headers["x-correlation-id"] != "Jane Doe"
    uuid.UUID(named.headers["x-correlation-id"])
    assert refused.status_code == 401 and "careloop_" not in refused.text
    assert scraped.status_code == 200
    assert CLIENT_ID not in scraped.text
    assert 'route="/clients/{client_id}/care-plan"' in scraped.text
