"""The admin page in a real browser: headless Chromium driven by Playwright (`make e2e`).

Each test serves the app on loopback with the demo program and a real database, and leaves
a screenshot of every page it visits in build/screenshots (or LOYALTY_SCREENSHOTS).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from loyalty import service
from loyalty.app import create_app
from loyalty.config import Settings
from loyalty.domain.access import Role
from loyalty.service import Pool
from tests.support import gql, on_loopback

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "db" / "seed" / "demo.json"
SHOTS = Path(os.environ.get("LOYALTY_SCREENSHOTS", ROOT / "build" / "screenshots"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Headless as root on a machine without a network: no sandbox, no background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

NUDGES = """
query N($cart: CartInput!) { nudges(cart: $cart) { ... on NudgeList { nudges { id ruleId } } } }
"""
RECORD = """
mutation R($input: PurchaseInput!) { recordPurchase(input: $input) {
  __typename ... on PurchaseRecorded { pointsEarned acceptedNudgeIds
    awards { ruleName points } rebateCodesIssued { code } } } }
"""


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="session")
async def browser(screenshots: Path) -> AsyncIterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def served(pool: Pool, settings: Settings, dsn: str) -> AsyncIterator[dict[str, str]]:
    """The demo program served on loopback, with an admin key and a till's key."""
    await service.load_seed(pool, json.loads(SEED.read_text()))
    keys = {
        "admin": await service.create_api_key(pool, Role.ADMIN, None, "browser"),
        "pos": await service.create_api_key(pool, Role.POS, "S1", "till"),
    }
    async with on_loopback(create_app(settings, pool=pool, dsn=dsn)) as port:
        yield {"url": f"http://127.0.0.1:{port}", **keys}


async def open_page(browser: Browser, url: str, viewport: dict[str, int]) -> Page:
    page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.problems = problems  # type: ignore[attr-defined]
    await page.goto(f"{url}/admin")
    return page


async def sign_in(page: Page, key: str) -> None:
    await page.fill("#admin-key", key)
    await page.click("#sign-in button")
    await expect(page.locator("#rules-table")).to_be_visible()


async def signed_in(
    browser: Browser, served: dict[str, str], viewport: dict[str, int] = DESKTOP
) -> Page:
    page = await open_page(browser, served["url"], viewport)
    await sign_in(page, served["admin"])
    return page


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


async def api(url: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url) as client:
        body = await gql(client, query, variables, auth=key)
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def test_an_admin_creates_an_upsize_rule_simulates_it_and_sees_it_pay(
    browser: Browser, served: dict[str, str]
) -> None:
    url = served["url"]
    page = await open_page(browser, url, DESKTOP)

    await page.fill("#admin-key", served["pos"])
    await page.click("#sign-in button")
    await expect(page.locator("#notice")).to_contain_text("this needs an admin API key")
    await sign_in(page, served["admin"])
    await expect(page.locator("#rules-table")).to_contain_text("Go large: 20 bonus points a pizza")
    await shot(page, "rules")

    await page.click("#nav [data-tab=analytics]")
    await expect(page.locator("[data-chart=acceptance]")).to_contain_text("No nudges shown")
    await expect(page.locator("[data-chart=funnel] [data-key=accepted]")).to_have_attribute(
        "data-value", "0"
    )

    await page.click("#nav [data-tab=rules]")
    await page.click("#new-rule")
    await page.select_option("#f-kind", "UPSIZE")
    await page.fill("#f-name", "Twelve wings: 30 bonus points")
    await page.fill("#f-upsize-family", "wings")
    # Validated as it is typed: a bad number is named before anything is sent.
    await page.fill("#f-upsize-minSizeRank", "two")
    await expect(page.locator("#f-upsize-minSizeRank-error")).to_have_text("a whole number")
    await page.fill("#f-upsize-minSizeRank", "2")
    await expect(page.locator("#f-upsize-minSizeRank-error")).to_have_text("")
    await page.fill("#f-upsize-points", "30")
    await page.fill("#f-message", "Make it {product} for +{extra} and earn {points} bonus points")
    await page.fill("#f-rebate-amountOff", "1.505")
    await expect(page.locator("#f-rebate-amountOff-error")).to_contain_text("at most 2 decimals")
    await page.fill("#f-rebate-amountOff", "1.50")
    await page.fill("#f-rebate-daysValid", "30")

    line = page.locator("#simulator .line").first
    await line.locator(".sku").fill("WINGS-12")
    await line.locator(".sku").dispatch_event("change")
    await expect(line.locator(".price")).to_have_value("10.49")
    await page.click("#simulate")
    await expect(page.locator("#sim-pays")).to_have_text("This rule pays 30 points.")
    await expect(page.locator("#sim-result")).to_contain_text("today (+30)")
    await shot(page, "rule-editor")

    await page.click("#save-rule")
    await expect(page.locator("#notice")).to_contain_text("Saved")
    rule_id = (await page.evaluate("location.hash")).rsplit("/", 1)[1]
    assert rule_id.isdigit()

    # A till offers the nudge on a six-wings cart and the customer takes it.
    at = datetime.now(UTC).isoformat()
    cart = {
        "storeId": "S1",
        "customerId": "web-1",
        "lines": [{"sku": "WINGS-6", "quantity": 1, "unitPrice": 599}],
    }
    [nudge] = (await api(url, served["pos"], NUDGES, {"cart": cart}))["nudges"]["nudges"]
    assert nudge["ruleId"] == rule_id
    purchase = {
        "customerId": "web-1",
        "storeId": "S1",
        "transactionId": "web-T1",
        "occurredAt": at,
        "lines": [{"sku": "WINGS-12", "quantity": 1, "unitPrice": 1049}],
        "acceptedNudgeIds": [nudge["id"]],
    }
    recorded = (await api(url, served["pos"], RECORD, {"input": purchase}))["recordPurchase"]
    assert recorded["acceptedNudgeIds"] == [nudge["id"]]
    assert {"ruleName": "Twelve wings: 30 bonus points", "points": 30} in recorded["awards"]
    assert len(recorded["rebateCodesIssued"]) == 1

    await page.click("#nav [data-tab=analytics]")
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date().isoformat()  # the demo's days
    ours = f"circle[data-day='{today}'][data-series='Twelve wings: 30 bonus points']"
    await expect(page.locator(f"[data-chart=acceptance] {ours}")).to_have_attribute(
        "data-value", "100"
    )
    revenue = page.locator(f"[data-chart=revenue] {ours}")
    await expect(revenue).to_have_attribute("data-value", "450")
    funnel = page.locator("[data-chart=funnel]")
    await expect(funnel.locator("[data-key=shown]")).to_have_attribute("data-value", "1")
    await expect(funnel.locator("[data-key=accepted]")).to_have_attribute("data-value", "1")
    await expect(funnel.locator("[data-key=issued]")).to_have_attribute("data-value", "1")
    row = page.locator(f"#analytics-table tr[data-rule-id='{rule_id}']")
    await expect(row.locator("[data-col=accepted]")).to_have_text("1")
    await shot(page, "analytics")

    await page.click("#nav [data-tab=customers]")
    await page.fill("#customer-id", "web-1")
    await page.press("#customer-id", "Enter")
    await expect(page.locator("#stat-balance strong")).to_have_text(str(recorded["pointsEarned"]))
    await expect(page.locator("#ledger-table")).to_contain_text("Twelve wings")
    await expect(page.locator("#codes-table")).to_contain_text("THX-")
    assert page.problems == []  # type: ignore[attr-defined]


async def test_catalog_and_customer_pages_edit_through_the_api(
    browser: Browser, served: dict[str, str]
) -> None:
    url = served["url"]
    page = await signed_in(browser, served)

    await page.click("#nav [data-tab=catalog]")
    await page.locator("#products-table tr[data-sku='LAVA-CAKE'] button").click()
    await expect(page.locator("#f-sku")).to_have_value("LAVA-CAKE")
    await page.fill("#f-family", "cakes")
    await page.click("#save-product")
    await expect(page.locator("#f-sizeRank-error")).to_have_text(
        "a family and a size rank go together"
    )
    await page.fill("#f-family", "")
    await page.fill("#f-price", "5.25")
    await page.click("#save-product")
    await expect(page.locator("#notice")).to_have_text("Saved LAVA-CAKE.")
    await expect(page.locator("#products-table tr[data-sku='LAVA-CAKE']")).to_contain_text("5.25")
    products = await api(url, served["admin"], "{ products(first: 100) { sku price } }", {})
    assert {"sku": "LAVA-CAKE", "price": 525} in products["products"]
    await shot(page, "catalog")

    await page.click("#nav [data-tab=customers]")
    await page.fill("#customer-id", "web-2")
    await page.press("#customer-id", "Enter")
    await expect(page.locator("#customer")).to_contain_text("No customer")
    await page.fill("#f-points", "-5")
    await page.fill("#f-reason", "Test")
    await page.click("#adjust")
    await expect(page.locator("#adjust-result")).to_contain_text("points")  # not enough points
    await page.fill("#f-points", "25")
    await page.fill("#f-reason", "Sorry for the cold pizza")
    # A double click sends one adjustment: the second request replays the first's key.
    await page.dblclick("#adjust")
    await expect(page.locator("#stat-balance")).to_contain_text("25")
    await expect(page.locator("#ledger-table tbody tr")).to_have_count(1)
    await expect(page.locator("#ledger-table")).to_contain_text("Sorry for the cold pizza")
    await shot(page, "customer")
    assert page.problems == []  # type: ignore[attr-defined]


async def test_every_page_fits_a_phone_screen(browser: Browser, served: dict[str, str]) -> None:
    page = await signed_in(browser, served, PHONE)
    pages = {
        "rules": "#rules-table",
        "rules/new": "#simulator",
        "catalog": "#products-table",
        "customers/demo-customer-1": "#adjust-form",
        "analytics": "[data-chart=funnel]",
    }
    await expect(page.locator("#sign-out")).to_be_in_viewport(ratio=1)
    for route, ready in pages.items():
        await page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        await page.evaluate(f"location.hash = '#/{route}'")
        await expect(page.locator(ready)).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{route} is {width}px wide on a {PHONE['width']}px screen"
        assert await page.evaluate("window.scrollY") == 0, f"{route} opens scrolled down"
        await shot(page, f"phone-{route.replace('/', '-')}")
        if check := PHONE_CHECKS.get(route):
            await check(page)
    assert page.problems == []  # type: ignore[attr-defined]


async def keyboards(page: Page) -> None:
    """Points take the number pad, but a field that may be negative has a minus sign."""
    await expect(page.locator("#f-upsize-points")).to_have_attribute("inputmode", "numeric")
    await expect(page.locator("#f-priority")).not_to_have_attribute("inputmode", "numeric")


async def edit_buttons(page: Page) -> None:
    button = page.locator("#products-table tr[data-sku='LAVA-CAKE'] button")
    box = await button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 36, "big enough for a thumb"
    await expect(page.locator("main")).not_to_contain_text("null")


async def adjust_keyboard(page: Page) -> None:
    await expect(page.locator("#f-points")).not_to_have_attribute("inputmode", "numeric")


async def day_labels(page: Page) -> None:
    boxes = await page.evaluate(
        """[...document.querySelectorAll('[data-chart=acceptance] text.axis')]
        .filter((t) => /^\\d\\d-\\d\\d$/.test(t.textContent))
        .map((t) => t.getBoundingClientRect()).map((r) => [r.left, r.right])"""
    )
    assert len(boxes) >= 2
    for (_, right), (left, _) in itertools.pairwise(boxes):
        assert right <= left, f"day labels overlap: {boxes}"


PHONE_CHECKS = {
    "rules/new": keyboards,
    "catalog": edit_buttons,
    "customers/demo-customer-1": adjust_keyboard,
    "analytics": day_labels,
}


async def test_on_a_phone_an_error_shows_where_the_admin_is(
    browser: Browser, served: dict[str, str]
) -> None:
    page = await signed_in(browser, served, PHONE)
    await page.click("#new-rule")
    await page.fill("#f-name", "Twelve wings")
    await page.fill("#f-upsize-family", "wings")
    await page.fill("#f-upsize-minSizeRank", "2")
    await page.fill("#f-upsize-points", "5")
    await page.route("**/graphql", lambda route: route.abort())
    await page.click("#save-rule")
    await expect(page.locator("#notice")).to_contain_text("cannot be reached")
    await expect(page.locator("#notice")).to_be_in_viewport()
    await expect(page.locator("#save-rule")).to_be_in_viewport()


RULES = "{ rules { id version kind name priority exclusive message spec } }"
CREATE_RULE = """
mutation C($input: RuleInput!) { createRule(input: $input) {
  __typename ... on RuleSaved { rule { id } } ... on Error { message } } }
"""


async def save_unchanged(page: Page, rule: dict[str, Any]) -> None:
    await page.evaluate(f"location.hash = '#/rules/{rule['id']}'")
    await expect(page.locator("main h1")).to_have_text(rule["name"])
    await page.click("#save-rule")
    await expect(page.locator(".form-errors")).to_have_text("")
    await expect(page.locator("#notice")).to_contain_text(f"version {rule['version'] + 1}.")


async def test_every_demo_rule_saved_unchanged_keeps_its_spec(
    browser: Browser, served: dict[str, str]
) -> None:
    url, key = served["url"], served["admin"]
    page = await signed_in(browser, served)
    before = (await api(url, key, RULES, {}))["rules"]
    assert len(before) == 6
    for rule in before:
        await save_unchanged(page, rule)
    after = {rule["id"]: rule for rule in (await api(url, key, RULES, {}))["rules"]}
    for rule in before:
        assert after[rule["id"]] == {**rule, "version": rule["version"] + 1}, rule["name"]
    assert page.problems == []  # type: ignore[attr-defined]


UPSIZE_WITH_EVERYTHING = {
    "kind": "UPSIZE",
    "name": "Late lunch upsize",
    "priority": -5,
    "exclusive": True,
    "message": "Go large for {extra}",
    "upsize": {"family": "wings", "minSizeRank": 2, "points": 7},
    "conditions": {
        "validFrom": "2026-03-01T09:30:15+01:00",
        "validTo": "2027-01-01T00:00:00+00:00",
        "daysOfWeek": [7, 1, 5],
        "timeFrom": "18:00",
        "timeTo": "24:00",
        "channels": ["WEB", "APP"],
        "stores": ["S1", "S2"],
        "tiers": ["Gold", "Silver"],
        "excludedSegments": ["mostly_returns"],
    },
    "caps": {"period": "WEEK", "maxAwards": 2, "maxPoints": 50, "budget": 5000},
    "rebate": {"percentOff": 10, "minSpend": 1500, "daysValid": 366},
}
BOTH_BONUSES = [
    {
        "kind": "SPEND_THRESHOLD",
        "name": "Half as much again from 25.00",
        "spendThreshold": {"threshold": 2500, "points": 0, "multiplierPercent": 150},
    },
    {
        "kind": "PRODUCT_BONUS",
        "name": "Cake: 5 points and double base",
        "productBonus": {"target": {"category": "desserts"}, "points": 5, "multiplierPercent": 200},
    },
]


@pytest.mark.parametrize(
    "rule",
    [UPSIZE_WITH_EVERYTHING, *BOTH_BONUSES],
    ids=["upsize-with-everything", "threshold-both-bonuses", "product-both-bonuses"],
)
async def test_a_rule_made_through_the_api_saved_unchanged_keeps_its_spec(
    browser: Browser, served: dict[str, str], rule: dict[str, Any]
) -> None:
    url, key = served["url"], served["admin"]
    created = (await api(url, key, CREATE_RULE, {"input": rule}))["createRule"]
    assert created["__typename"] == "RuleSaved", created
    rule_id = created["rule"]["id"]
    page = await signed_in(browser, served)
    [before] = [r for r in (await api(url, key, RULES, {}))["rules"] if r["id"] == rule_id]
    await save_unchanged(page, before)
    [after] = [r for r in (await api(url, key, RULES, {}))["rules"] if r["id"] == rule_id]
    assert after == {**before, "version": before["version"] + 1}
    assert page.problems == []  # type: ignore[attr-defined]


async def test_a_late_answer_does_not_paint_over_the_page_opened_since(
    browser: Browser, served: dict[str, str]
) -> None:
    page = await signed_in(browser, served)
    release = asyncio.Event()

    async def slow_rule(route: Route) -> None:
        if "rule(id:" in (route.request.post_data or ""):
            await release.wait()
        await route.continue_()

    await page.route("**/graphql", slow_rule)
    await page.evaluate("location.hash = '#/rules/2'")
    await page.click("#nav [data-tab=catalog]")
    await expect(page.locator("#products-table")).to_be_visible()
    async with page.expect_response(lambda r: "rule(id:" in (r.request.post_data or "")):
        release.set()
    await page.evaluate("new Promise((done) => setTimeout(done, 200))")
    await expect(page.locator("#products-table")).to_be_visible()
    await expect(page.locator("#rule-form")).to_have_count(0)
    assert page.problems == []  # type: ignore[attr-defined]


async def test_a_key_that_stops_working_brings_back_the_sign_in_form(
    browser: Browser, served: dict[str, str]
) -> None:
    page = await signed_in(browser, served)

    async def revoked(route: Route) -> None:
        headers = {**route.request.headers, "authorization": "Bearer lk_000000000000_revoked"}
        await route.continue_(headers=headers)

    await page.route("**/graphql", revoked)
    await page.click("#nav [data-tab=catalog]")
    await expect(page.locator("#sign-in")).to_be_visible()
    await expect(page.locator("#notice")).to_have_text("Your key is no longer valid.")
    await expect(page.locator("#nav")).to_be_hidden()
    await expect(page.locator("#program")).to_have_text("Loyalty admin")


ADJUST = """
mutation A($input: AdjustPointsInput!) { adjustPoints(input: $input) { __typename } }
"""


async def test_an_adjustment_retried_after_a_lost_answer_pays_once(
    browser: Browser, served: dict[str, str]
) -> None:
    url, key = served["url"], served["admin"]
    page = await signed_in(browser, served)
    sent: list[str] = []

    async def lose_the_first_answer(route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        if "adjustPoints" not in body["query"]:
            await route.continue_()
            return
        sent.append(body["variables"]["input"]["idempotencyKey"])
        response = await route.fetch()  # the service does the work...
        if len(sent) == 1:
            await route.abort()  # ...and the answer never arrives
        else:
            await route.fulfill(response=response)

    await page.route("**/graphql", lose_the_first_answer)
    await page.evaluate("location.hash = '#/customers/web-3'")
    await page.fill("#f-points", "25")
    await page.fill("#f-reason", "Sorry for the cold pizza")
    await page.click("#adjust")
    await expect(page.locator("#notice")).to_contain_text("cannot be reached")
    await page.click("#adjust")
    await expect(page.locator("#stat-balance strong")).to_have_text("25")
    await expect(page.locator("#ledger-table tbody tr")).to_have_count(1)
    await expect(page.get_by_role("button", name="Older entries")).to_be_hidden()

    await page.fill("#f-points", "10")
    await page.fill("#f-reason", "And a drink")
    await page.click("#adjust")
    await expect(page.locator("#stat-balance strong")).to_have_text("35")
    assert sent[0] == sent[1] != sent[2]

    # Looking the same customer up again reads them again.
    adjust = {"customerId": "web-3", "points": 5, "reason": "Till", "idempotencyKey": "t-1"}
    await api(url, key, ADJUST, {"input": adjust})
    await page.click("#customer-search button")
    await expect(page.locator("#stat-balance strong")).to_have_text("40")
    assert page.problems == ["Failed to load resource: net::ERR_FAILED"]  # type: ignore[attr-defined]


async def test_an_analytics_error_goes_once_the_form_is_right(
    browser: Browser, served: dict[str, str]
) -> None:
    page = await signed_in(browser, served)
    await page.click("#nav [data-tab=analytics]")
    await page.fill("#point-value", "one euro")
    await page.click("#analytics-form button")
    await expect(page.locator("#notice")).to_contain_text("Point value: an amount like 2.50")
    await page.fill("#point-value", "1.00")
    await page.click("#analytics-form button")
    await expect(page.locator("#notice")).to_be_hidden()
    assert page.problems == []  # type: ignore[attr-defined]


async def test_an_archived_rule_opens_to_read_and_not_to_save(
    browser: Browser, served: dict[str, str]
) -> None:
    url, key = served["url"], served["admin"]
    archive = "mutation($id: ID!) { archiveRule(id: $id) { __typename } }"
    await api(url, key, archive, {"id": "3"})
    page = await signed_in(browser, served)
    await page.check("#show-archived")
    await page.click("#rules-table tr[data-rule-id='3'] a")
    await expect(page.locator("main .muted")).to_have_text("version 1 · archived")
    await expect(page.locator("#f-name")).to_be_disabled()
    await expect(page.locator("#save-rule")).to_be_hidden()
    await expect(page.locator("#archive-rule")).to_have_count(0)
    assert page.problems == []  # type: ignore[attr-defined]
