"""The web pages in a real browser (Debian's Chromium): each role sees exactly its own view,
every page view is a recorded read, nothing about a client lands in an address, a title or
browser storage, and break-glass works from the page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from services.runtime import Runtime
from tests.browser.conftest import CLIENT, new_page, reads_by, shot, sign_in, storage_is_empty

PHI = ("Jordan", "Rivera", "Okafor", "eviction", "Eviction", "self-harm", "1987-04-12")


async def test_a_coordinator_works_a_worklist_and_follows_a_referral_loop(
    web: Runtime, browser: Browser
) -> None:
    page = await new_page(browser)
    addresses: list[str] = []
    page.on("request", lambda r: addresses.append(r.url))
    await sign_in(page, web, "co-5001")
    assert await page.title() == "Worklists · careloop"
    counts = {name: await page.locator(f"a[data-worklist='{name}'] .count").inner_text()
              for name in ("overdue-referrals", "unacknowledged-referrals", "high-risk",
                           "upcoming-conferences", "unfinalized-conferences",
                           "overdue-actions", "stale-goals")}
    assert counts == {"overdue-referrals": "1", "unacknowledged-referrals": "1",
                      "high-risk": "2", "upcoming-conferences": "1",
                      "unfinalized-conferences": "1", "overdue-actions": "2",
                      "stale-goals": "1"}
    await shot(page, "coordinator-worklists")
    # The home page recorded one read per row it shows: each list's first row on its tab,
    # and the chosen list's rows (the overdue referral).
    home_reads = await reads_by(web, "co-5001")
    assert sorted(r.view for r in home_reads) == sorted(
        [f"worklist:{name}" for name in counts] + ["worklist:overdue-referrals"])
    assert await page.locator("a[data-worklist='break-glass'] .first").count() == 0

    # Paging and filtering swap the table in place (htmx); a filter that matches nothing
    # says so.
    await page.goto(f"{web.http_url}/ui/?list=high-risk&size=1")
    first = await page.locator("#worklist tbody tr").inner_text()
    await page.get_by_role("link", name="Next", exact=True).click()
    await page.wait_for_selector("#worklist >> text=Page 2 of 2")
    assert await page.locator("#worklist tbody tr").inner_text() != first
    await page.click("a[data-worklist='high-risk']")
    assert await page.locator("#worklist tbody tr").count() == 2
    await page.get_by_label("Waiting on").fill("nobody-in-particular")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_selector("#worklist >> text=Nothing here today.")
    assert "party=" not in page.url  # swapped by htmx; the page address did not change

    await page.click("a[data-worklist='overdue-referrals']")
    row = page.locator("#worklist tbody tr")
    assert await row.count() == 1 and "riverside-psych" in await row.inner_text()
    await row.locator("a").click()
    await page.wait_for_selector("h1:has-text('Care plan')")
    assert page.url == f"{web.http_url}/ui/clients/{CLIENT}"
    assert await page.title() == "Care plan · careloop"

    overdue = page.locator("article.referral", has_text="Psychiatry")
    assert "overdue" in await overdue.inner_text()
    closed = page.locator("article.referral", has_text="loop closed")
    steps = await closed.locator("ol.timeline li .step").all_inner_texts()
    assert steps == ["made", "accepted", "completed", "outcome acknowledged", "loop closed"]
    waiting = page.locator("article.referral", has_text="awaiting acknowledgement")
    assert "got-help" in await waiting.inner_text()
    text = await page.locator("main").inner_text()
    signed_off = page.locator("article.conference", has_text="finalized")
    assert "Prioritise the supported-housing application." in await signed_off.inner_text()
    assert "Submit the supported-housing application · ha-207" in await signed_off.inner_text()
    assert "PHQ-9 · mild" in text  # band and trend for coordinators, no items, no chart
    assert "alcohol" not in text and "part 2" not in text  # no Part 2 consent
    assert await page.locator("svg").count() == 0
    await shot(page, "coordinator-care-plan")

    # Readable on a tablet: nothing wider than the screen.
    await page.set_viewport_size({"width": 820, "height": 1180})
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await shot(page, "coordinator-care-plan-tablet")

    # Every view was a recorded read, through the web channel, for care coordination.
    reads = await reads_by(web, "co-5001")
    plan_reads = [r for r in reads if r.view == "care_plan.coordinator"]
    assert len(plan_reads) == 1 and plan_reads[0].channel == "web"
    assert {r.purpose for r in reads} == {"care-coordination"}
    assert {r.view for r in reads} >= {"worklist:overdue-referrals", "worklist:high-risk"}
    assert {str(r.client_id) for r in reads} >= {CLIENT}

    # No PHI in addresses, titles or browser storage.
    assert not [a for a in addresses if any(p in a for p in PHI)]
    assert await storage_is_empty(page)

    # Signing out ends the session: the old cookie is refused too.
    cookies = await page.context.cookies()
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_selector("text=You are signed out.")
    await page.context.add_cookies(cookies)  # someone replays the old session cookie
    await page.goto(f"{web.http_url}/ui/clients/{CLIENT}")
    assert page.url.endswith("/ui/sign-in")
    assert len(await reads_by(web, "co-5001")) == len(reads)


async def test_a_housing_advocate_finds_no_clinical_data_anywhere_in_the_page(
    web: Runtime, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = await new_page(browser)
    # Keyboard only: the skip link comes first, every control is reachable and labelled.
    await page.goto(f"{web.http_url}/ui/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    await page.get_by_label("ha-207", exact=False).focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("Enter")  # submits the sign-in form
    await page.wait_for_selector("header .who")
    await page.get_by_label("careloop client id").focus()
    await page.keyboard.type(CLIENT)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("h1:has-text('Care plan')")
    text, html = await page.locator("body").inner_text(), await page.content()
    assert "Secure a stable tenancy" in text and "Tenancy sustainment support." in text
    assert "Safety flag: contact the coordinator" in text
    assert "Submit the supported-housing application · ha-207" in text  # own action items
    for clinical in ("PHQ", "GAD", "self-harm", "Risk flag", "Risk and screening",
                     "psychiatry", "Psychiatry", "riverside-psych", "Medication",
                     "moderately severe", "Passive", "Diagnos", "<svg", "alcohol",
                     "42 CFR"):
        assert clinical not in text and clinical not in html, clinical
    await shot(page, "housing-advocate-care-plan")
    reads = await reads_by(web, "ha-207")
    assert [(r.view, r.channel) for r in reads] == [("care_plan.housing-advocate", "web")]
    assert await storage_is_empty(page)

    # No record, no data: when the read cannot be recorded, the page shows nothing of it.
    async def cannot_record(read: object) -> None:
        raise RuntimeError("the store is away")

    assert web.disclosures is not None
    monkeypatch.setattr(web.disclosures, "record", cannot_record)
    failed = await page.goto(f"{web.http_url}/ui/clients/{CLIENT}")
    assert failed is not None and failed.status == 503
    assert "Secure a stable tenancy" not in await page.content()


async def test_a_clinician_sees_the_screening_trend_and_another_breaks_the_glass(
    web: Runtime, browser: Browser
) -> None:
    page = await new_page(browser)
    await sign_in(page, web, "sw-1042")
    await page.goto(f"{web.http_url}/ui/clients/{CLIENT}")
    chart = page.locator("figure.chart")
    assert await chart.locator("polyline").count() == 2  # PHQ-9 and GAD-7
    legend = await chart.locator("figcaption").inner_text()
    assert "PHQ-9 (0\u201327): 19" in legend and "GAD-7 (0\u201321): 12" in legend
    await shot(page, "clinician-care-plan")

    psy = await new_page(browser)
    await sign_in(psy, web, "psy-3307")  # a psychiatrist not on this client's team
    await psy.goto(f"{web.http_url}/ui/clients/{CLIENT}")
    assert "no such client within your scope" in await psy.locator("main").inner_text()
    assert "Eviction hearing" not in await psy.content()

    # A form without our CSRF token is refused, and opens nothing.
    forged = await psy.request.post(f"{web.http_url}/ui/clients/{CLIENT}/break-glass",
                                    form={"reason": "I would like to look at everything."})
    assert forged.status in (403, 422)
    token = await psy.locator("form.break-glass input[name=csrf]").input_value()
    elsewhere = await psy.request.post(
        f"{web.http_url}/ui/clients/{CLIENT}/break-glass", headers={"Origin": "https://evil.test"},
        form={"reason": "I would like to look at everything.", "csrf": token})
    assert elsewhere.status == 403  # a valid token, but posted from another site
    assert [r for r in await reads_by(web, "psy-3307") if r.purpose == "emergency"] == []

    await psy.get_by_label("Reason for emergency access").fill("short")
    # The browser asks for a longer reason first; past it, the server refuses as well.
    assert not await psy.locator("#reason").evaluate("e => e.checkValidity()")
    await psy.locator("#reason").evaluate("e => e.removeAttribute('minlength')")
    await psy.get_by_role("button", name="Open emergency access").click()
    assert "at least 10 characters" in await psy.locator("main").inner_text()
    await psy.get_by_label("Reason for emergency access").fill(
        "Client brought to A&E unresponsive; need the medication history now.")
    await psy.get_by_role("button", name="Open emergency access").click()
    banner = psy.locator("p.emergency", has_text="Emergency access")
    assert "ends at" in await banner.inner_text() and "UTC" in await banner.inner_text()
    assert "Eviction hearing next week" in await psy.locator("main").inner_text()
    notice = psy.locator("aside.part2")  # the Part 2 episode comes with its notice
    assert "42 CFR part 2" in await notice.inner_text()
    assert "break-glass" in psy.url and CLIENT in psy.url
    await shot(psy, "break-glass")

    emergency = [r for r in await reads_by(web, "psy-3307") if r.purpose == "emergency"]
    assert len(emergency) == 1 and "A&E" in (emergency[0].break_glass_reason or "")
    assert emergency[0].view == "care_plan.break-glass" and emergency[0].channel == "web"
    sw_reads = await reads_by(web, "sw-1042")
    assert [r.view for r in sw_reads] == ["care_plan.clinical-social-worker"]

    # The custodian's coordinator sees the opening at once: who and until when.
    coordinator = await new_page(browser)
    await sign_in(coordinator, web, "co-5001")
    await coordinator.click("a[data-worklist='break-glass']")
    row = coordinator.locator("#worklist tbody tr")
    for _ in range(600):  # the worklist is a projection: it catches up within moments
        if await row.count() == 1:
            break
        await coordinator.wait_for_timeout(100)
        await coordinator.reload()
    assert "psy-3307" in await row.inner_text()
    await shot(coordinator, "coordinator-break-glass")

