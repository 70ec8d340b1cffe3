"""A real browser (Debian's Chromium, driven by Playwright, as for the chat widget) uses the
console as the front desk does: log in, filter to callback requests, open the transcript, mark it
reviewed, export; a new callback request and an emergency show up as badges and browser
notifications on the open tab. Screenshots go to tests/artifacts/console/."""
import csv
import io

import pytest
from playwright.sync_api import expect

from scripts.serve import ROOT
from tests.console.conftest import (
    PASSWORD, console_on_a_copy, copy_tracker, replay, start_console, unique_dir,
)

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


# --- Notifications on an open tab (issue 12) ------------------------------------------------------

# Records the browser notifications the page shows, and each request for permission (the
# browser's own prompt cannot be answered in a headless run).
CAPTURE_NOTIFICATIONS = """
window.__shown = [];
window.__asked = 0;
(function () {
  var real = window.Notification;
  function Recorded(title, options) {
    window.__shown.push({title: title, body: (options || {}).body, tag: (options || {}).tag});
  }
  Recorded.permission = real ? real.permission : "default";
  Recorded.requestPermission = function () {
    window.__asked += 1;
    Recorded.permission = "granted";
    return Promise.resolve("granted");
  };
  window.Notification = Recorded;
}());
"""


@pytest.fixture(scope="module")
def desk(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_browser_notify")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    running = start_console(workdir, tracker, env={"NOTIFY_POLL_SECONDS": "1"})
    running.senders = recorded.senders
    yield running
    running.stop()


def log_in(page, console, user="staff"):
    page.goto(console.url + "/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today,")).to_be_visible()  # the home page


def test_a_new_callback_shows_a_badge_and_a_browser_notification(desk, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["notifications"])
    context.add_init_script(CAPTURE_NOTIFICATIONS)
    errors = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        log_in(page, desk)
        callbacks = page.locator("#notice-callback")
        emergencies = page.locator("#notice-emergency")
        expect(callbacks).to_be_hidden()
        expect(emergencies).to_be_hidden()
        expect(page.get_by_role("button", name="Desktop notifications")).to_be_hidden()

        replay(desk.tracker_db, desk.senders["callback_other"])
        expect(callbacks).to_be_visible(timeout=20000)
        expect(callbacks).to_have_text("1 new")
        page.screenshot(path=str(ARTIFACTS / "4-new-callback-badge.png"))
        shown = page.evaluate("window.__shown")
        assert len(shown) == 1 and shown[0]["title"].startswith("New callback request #")
        assert shown[0]["body"] == ("A new callback request is waiting: open the console at "
                                    f"http://localhost:{desk.servers.console_port}/callbacks")
        for secret in ("Dana", "636", "tuesday", "how long"):
            assert secret not in str(shown)

        replay(desk.tracker_db, desk.senders["emergency"])
        expect(emergencies).to_be_visible(timeout=20000)
        expect(emergencies).to_have_text("Emergencies 1 new")
        assert [s["title"].split(" #")[0] for s in page.evaluate("window.__shown")] == [
            "New callback request", "Emergency guidance given"]

        page.get_by_role("link", name="Callback queue").click()  # seen: the badge goes
        expect(page.get_by_role("heading", name="Callback queue")).to_be_visible()
        expect(callbacks).to_be_hidden()
        expect(emergencies).to_be_visible()
        emergencies.click()
        expect(page).to_have_url(desk.url + "/conversations?emergency=1")
        expect(emergencies).to_be_hidden()
        page.wait_for_timeout(2500)  # two more polls: a new page announces nothing again
        assert page.evaluate("window.__shown") == []
        assert not errors, errors  # the CSP let the script run, and its requests through
    finally:
        context.close()


def test_browser_notifications_are_asked_for_with_the_button_only(desk, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(CAPTURE_NOTIFICATIONS)
    try:
        page = context.new_page()
        log_in(page, desk)
        button = page.get_by_role("button", name="Desktop notifications")
        expect(button).to_be_visible()
        page.wait_for_timeout(2500)  # polls come and go; nobody is asked
        assert page.evaluate("window.__asked") == 0
        button.click()
        expect(button).to_be_hidden()
        assert page.evaluate("window.__asked") == 1
    finally:
        context.close()
