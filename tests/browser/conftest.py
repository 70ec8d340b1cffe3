"""Real browser tests of the chat widget: Debian's Chromium (driven by Playwright) loads the demo
page from web/serve.py, and the widget talks to the real Rasa server and action server, all on
loopback ports started exactly as `make run` starts them.

Each test gets a fresh browser context (its own sessionStorage), and fails if the page made a
request anywhere but the page's server and the Rasa server, set a cookie, or broke its CSP.
"""
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from scripts.serve import ROOT, Servers, free_port
from tests.clinic_facts import CLINIC
from tests.e2e.conftest import start_servers

ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
PHONE = CLINIC.phone  # from clinic.yml in the content folder in use (tests/clinic_facts.py)
TEL = CLINIC.tel
DESKTOP = {"width": 1280, "height": 800}
PHONE_SCREEN = {"width": 360, "height": 740}
REPLY_TIMEOUT_MS = 30_000
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def start_web_servers(tmp_path_factory, name: str) -> Servers:
    return start_servers(tmp_path_factory, name, web_port=free_port())


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Servers]:
    running = start_web_servers(tmp_path_factory, "browser")
    yield running
    running.stop()


def new_page(browser, servers: Servers, **options: Any) -> Page:
    """A page in a fresh context that records what it requests and what the console says."""
    context = browser.new_context(viewport=options.pop("viewport", DESKTOP), **options)
    page = context.new_page()
    page.requests = []  # every URL the page asked for
    page.console = []  # console messages and uncaught errors
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console.append(f"pageerror: {error}"))
    return page


def check_page_behaved(page: Page, servers: Servers) -> None:
    allowed = (servers.web_origin + "/", servers.public_rasa_url + "/")
    strangers = [url for url in page.requests if not url.startswith(allowed)]
    assert not strangers, f"requests outside the page and the Rasa server: {strangers}"
    assert page.context.cookies() == []
    broken = [line for line in page.console if "Content Security Policy" in line or "pageerror" in line]
    assert not broken, broken


@pytest.fixture
def page(browser, servers) -> Iterator[Page]:
    opened = new_page(browser, servers)
    yield opened
    check_page_behaved(opened, servers)
    opened.context.close()


def load(page: Page, servers: Servers) -> None:
    page.goto(servers.web_origin + "/")
    expect(page.locator("#clinic-chat[data-ready]")).to_be_visible()


def wait_for_reply(page: Page) -> None:
    expect(page.locator(".cc-log")).to_have_attribute("aria-busy", "false", timeout=REPLY_TIMEOUT_MS)


def open_chat(page: Page, servers: Servers) -> None:
    """Loads the page, opens the panel and waits for the bot's greeting."""
    load(page, servers)
    page.get_by_role("button", name="Chat with us").click()
    wait_for_reply(page)
    expect(page.locator(".cc-bot").first).to_contain_text("automated")


def send(page: Page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")
    wait_for_reply(page)


def last_bot(page: Page):
    return page.locator(".cc-bot").last


def sender_id(page: Page) -> str:
    return page.evaluate("() => JSON.parse(sessionStorage.getItem('clinicChat.sender'))")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def serious_violations(page: Page) -> List[str]:
    """What axe-core (bundled in axe-playwright-python, run in the page) rates serious or worse.
    Finite animations (the panel's fade-in) are let finish first: mid-fade, colours are
    half-transparent and the contrast check would judge a frame nobody reads."""
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
            .map(a => a.finished))"""
    )
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
