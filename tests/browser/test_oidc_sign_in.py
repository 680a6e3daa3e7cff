"""Production sign-in: the OpenID Connect authorization code flow with PKCE against a small
provider started by the test, in a real browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser

from services.runtime import Runtime
from services.settings import Settings
from tests.browser.conftest import new_page
from tests.browser.fake_issuer import FakeIssuer


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    running = FakeIssuer({"sub": "co-7001", "role": "coordinator", "org": "riverside-cmhc"})
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def oidc_web(base_settings: Settings, issuer: FakeIssuer) -> AsyncIterator[Runtime]:
    settings = base_settings.model_copy(update={"oidc_issuer": issuer.url})
    running = await Runtime(settings).start()
    yield running
    await running.stop()


async def test_signing_in_through_the_provider_with_pkce(
    oidc_web: Runtime, issuer: FakeIssuer, browser: Browser
) -> None:
    page = await new_page(browser)
    await page.goto(f"{oidc_web.http_url}/ui/")
    assert await page.locator("input[name=person]").count() == 0  # no demo sign-in here
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/auth/callback" in r.url else None)
    await page.get_by_role("link", name="Sign in with your organisation").click()
    await page.wait_for_selector("header .who")
    assert "co-7001" in await page.locator("header .who").inner_text()
    assert await page.title() == "Worklists · careloop"
    assert len(issuer.token_requests) == 1 and issuer.token_requests[0]["code_verifier"]

    session = [c for c in await page.context.cookies() if c["name"] == "careloop-session"]
    assert session and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"

    # The same answer from the provider cannot be used twice, nor a made-up state.
    replay = await page.goto(callbacks[0])
    assert replay is not None and replay.status == 401
    forged = await page.goto(f"{oidc_web.http_url}/ui/auth/callback?code=x&state=made-up")
    assert forged is not None and forged.status == 401

    # Someone the provider knows but who has no careloop role is not signed in.
    await page.context.clear_cookies()
    issuer.person = {"sub": "visitor-1", "role": "visitor", "org": "riverside-cmhc"}
    await page.goto(f"{oidc_web.http_url}/ui/sign-in")
    await page.get_by_role("link", name="Sign in with your organisation").click()
    await page.wait_for_selector("p.error")
    assert "no careloop role" in await page.locator("p.error").inner_text()
    assert [c for c in await page.context.cookies() if c["name"] == "careloop-session"] == []
