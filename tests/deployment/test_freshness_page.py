"""The Lake freshness page as a user sees it, in the deployment: a headless Chromium (Debian's, driven by
playwright) signs in through the UI's login form, opens "Browse → Lake freshness" and reads the windows
of ods.orders from the page's stable hooks (docs/freshness.md). The screenshot is the README's.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import _stack_required
from tests.deployment.conftest import AirflowApi, Deployment, Scenario
from tests.deployment.test_deployment import backfilled_snapshots
from tests.stack import REPO, stack_env

pytestmark = pytest.mark.deployment

TABLE = "ods.orders"
SCREENSHOT = REPO / "docs" / "img" / "lake-freshness.png"
# A busy 2-core machine: the UI's first load and the page's live evaluations may take their time.
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium (./dev setup and ./dev test install it); playwright never downloads one."""
    path = shutil.which("chromium")
    if path is None:
        msg = "Debian's chromium is not installed: ./dev setup installs it"
        if _stack_required():
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def sign_in(page: Page, base: str) -> None:
    """The UI's login form, as a user fills it in: the UI sends a visitor without a session there."""
    env = stack_env()
    page.goto(f"{base}/")
    page.locator("input[name=username]").fill(env["AIRFLOW_ADMIN_USER"])
    page.locator("input[name=password]").fill(env["AIRFLOW_ADMIN_PASSWORD"])
    page.get_by_role("button", name="Sign in").click()


def rows_shown(page: Page) -> dict[str, dict[str, Any]]:
    """The window rows of the pipeline's section, read in one go (the page redraws itself on refresh)."""
    section = page.frame_locator("iframe[title='Lake freshness']").locator(
        f'section.pipeline[data-table="{TABLE}"]'
    )
    rows: list[dict[str, Any]] = section.locator("tr.window").evaluate_all(
        """rows => rows.map(r => ({
            start: r.dataset.windowStart, end: r.dataset.windowEnd, status: r.dataset.status,
            cell: r.querySelector("td.status").className,
            snapshot: r.querySelector("td.snapshot").textContent}))"""
    )
    return {r["start"]: r for r in rows}


def freshness_json(api: AirflowApi) -> dict[str, Any]:
    answer = api.session.get(f"{api.base}/rtp-freshness/api/freshness", params={"table": TABLE}, timeout=60)
    assert answer.ok, answer.text[:500]
    (pipeline,) = answer.json()["pipelines"]
    assert pipeline["table"] == TABLE, pipeline
    return dict(pipeline)


def test_freshness_page_in_the_browser_shows_the_backfilled_hours_complete(
    deployment: Deployment, scenario: Scenario, chromium: str
) -> None:
    api = deployment.api
    snapshots = backfilled_snapshots(api, scenario)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            sign_in(page, api.base)
            page.get_by_role("button", name="Browse").click()
            page.get_by_role("menuitem", name="Lake freshness").click()
            page.wait_for_url("**/plugin/lake-freshness")

            frame = page.frame_locator("iframe[title='Lake freshness']")
            section = frame.locator(f'section.pipeline[data-table="{TABLE}"]')
            expect(section).to_be_visible()
            for start, snapshot in snapshots.items():
                row = section.locator(f'tr.window[data-window-start="{start}"]')
                expect(row).to_have_attribute("data-status", "complete")
                expect(row.locator("td.status")).to_have_class(re.compile(r"\bstatus-complete\b"))
                expect(row.locator("td.snapshot")).to_contain_text(snapshot)
            expect(section.locator("svg.delay-chart")).to_be_visible()
            expect(section.locator("a.link-flink")).to_have_attribute("href", re.compile(r"^http"))
            # The live part filled in (a newer answer than "running"), for the screenshot.
            expect(section.locator(".live-running")).to_have_count(0)
            shown = rows_shown(page)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()

    # The page shows what its JSON API answers: as many windows, and every decided one complete with
    # its snapshot. (Live verdicts may change between the two reads, and a window may have closed
    # meanwhile; decisions do not change.)
    pipeline = freshness_json(api)
    assert len(shown) == len(pipeline["windows"]), (shown, pipeline)
    decided = {w["window"]["start"]: w for w in pipeline["windows"] if w["source"] == "decision"}
    assert set(snapshots) <= set(decided), (snapshots, decided)
    for start, window in decided.items():
        if start not in shown:  # the oldest window, when the newest closed between the two reads
            continue
        assert shown[start]["status"] == "complete", shown[start]
        assert "status-complete" in shown[start]["cell"].split(), shown[start]
        assert shown[start]["snapshot"].startswith(window["snapshot_id"]), (shown[start], window)
    for start, snapshot in snapshots.items():
        assert decided[start]["snapshot_id"] == snapshot, decided[start]
