"""Browser tests: careloop in embedded mode (its own nats-server, SQLite), the demo story
posted over NATS as partners post it, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic
from playwright.async_api import Browser, Page, async_playwright

from domain.disclosure import Disclosure
from services.bus.embedded_auth import load_credentials
from services.partners.demo import post_story
from services.runtime import Runtime
from services.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CLIENT = "5f0c9a8e-2d4b-4c1e-9a3f-7b6d2e1c0a11"


@pytest.fixture
def store_kind() -> str:
    return "sqlite"  # the pages read the same views on either store; the API tests cover both


@pytest.fixture
async def web(base_settings: Settings) -> AsyncIterator[Runtime]:
    """careloop as `make run` starts it (no NATS_URL: embedded), with the demo story."""
    running = await Runtime(base_settings).start()
    try:
        receipts = await post_story(running.nats_url, base_settings.stream_inbound,
                                    load_credentials(base_settings.data_dir).partner_options)
        assert all(r.status == "accepted" for r in receipts), [
            r.summary for r in receipts if r.status != "accepted"]
        await _projected(running)
        yield running
    finally:
        await running.stop()


async def _projected(runtime: Runtime) -> None:
    """Wait (generously) until the views have caught up with everything the story stored."""
    for _ in range(2400):
        probe = await runtime.health()
        if probe.projection.get("lag") == 0 and probe.relay.get("lag") == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the demo story was never projected: {probe}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        raise AssertionError(f"{CHROMIUM} is missing: `apt-get install -y chromium` "
                             "(make test does it)")
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def new_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(60_000)  # a shared, loaded machine
    return await context.new_page()


async def sign_in(page: Page, runtime: Runtime, user: str) -> None:
    await page.goto(f"{runtime.http_url}/ui/")
    await page.get_by_label(user, exact=False).check()
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("header .who")


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def reads_by(runtime: Runtime, user: str) -> list[Disclosure]:
    """Recorded reads (Disclosure events) of one person, oldest first."""
    assert runtime.app is not None
    app = runtime.app
    topic = get_topic(Disclosure.Recorded)
    notes = await asyncio.to_thread(app.recorder.select_notifications, 1, 100_000, None,
                                    [topic])
    found: list[Any] = [app.repository.get(n.originator_id) for n in notes]
    return [d for d in found if d.viewer_id == user]


async def storage_is_empty(page: Page) -> bool:
    found = await page.evaluate("[Object.keys(localStorage), Object.keys(sessionStorage)]")
    assert found == [[], []], found
    return True
