"""A real browser (Debian's Chromium, driven by Playwright, as for the chat widget) uses the
console as the front desk does: log in, filter to callback requests, open the transcript, mark it
reviewed, export. Screenshots go to tests/artifacts/console/."""
import csv
import io

import pytest
from playwright.sync_api import expect

from scripts.serve import ROOT
from tests.console.conftest import PASSWORD, console_on_a_copy

ARTIFACTS = ROOT / "tests" / "artifacts" / "console"


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    running = console_on_a_copy(recorded, tmp_path_factory, "console_browser")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


def test_front_desk_morning_round(console, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(console.url + "/callbacks")  # not logged in: the login page, then back here
    expect(page).to_have_url(console.url + "/login?next=/callbacks")
    page.get_by_label("User name").fill("staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Callback queue")).to_be_visible()
    expect(page.get_by_text("(314) 555-0142")).to_be_visible()

    page.get_by_role("link", name="Conversations").click()
    page.get_by_label("Callback requested").check()
    page.get_by_role("button", name="Show").click()
    # three requests (tests/console/conftest.py); Jane's second one is the newest
    expect(page.get_by_text("3 conversations, newest first")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "1-callback-filter.png"), full_page=True)

    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Conversation of")).to_be_visible()
    expect(page.locator(".bubble.visitor").first).to_be_visible()
    # the visitor's <script> is shown as text, never run
    expect(page.get_by_text("Jane <script>alert('xss')</script> Doe")).to_be_visible()
    page.get_by_label("Reviewed").check()
    page.get_by_label("Note").fill("Called back, booked for Tuesday")
    page.get_by_role("button", name="Save review").click()
    expect(page.locator(".badge-reviewed")).to_be_visible()
    expect(page.get_by_label("Note")).to_have_value("Called back, booked for Tuesday")
    page.screenshot(path=str(ARTIFACTS / "2-transcript-reviewed.png"), full_page=True)

    page.get_by_role("link", name="Conversations").click()
    page.get_by_label("Reviewed").select_option("yes")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = download_info.value
    saved = ARTIFACTS / download.suggested_filename
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert [r["sender_id"] for r in rows] == [console.senders["callback"]]
    assert rows[0]["reviewed"] == "True"
    page.screenshot(path=str(ARTIFACTS / "3-reviewed-list.png"), full_page=True)
