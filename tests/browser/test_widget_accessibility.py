"""The widget with the keyboard alone, under an axe-core scan, with reduced motion, and on a
360 px phone screen and a desktop (screenshots saved in tests/artifacts/browser/)."""
from typing import List

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    CLINIC, DESKTOP, PHONE, PHONE_SCREEN, check_page_behaved, last_bot, load, new_page, open_chat, screenshot,
    send, serious_violations, wait_for_reply,
)

def focused(page: Page) -> str:
    """The focused element, described as "tag#id.class: text" for assertions and messages."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return `${e.tagName.toLowerCase()}#${e.id}.${e.className}: ${e.textContent.trim()}`; }"
    )


def tab_to(page: Page, wanted: str, backwards: bool = False, limit: int = 40) -> None:
    key = "Shift+Tab" if backwards else "Tab"
    seen: List[str] = []
    for _ in range(limit):
        page.keyboard.press(key)
        seen.append(focused(page))
        if wanted in seen[-1]:
            return
    raise AssertionError(f"{wanted!r} never got the focus; focus went through {seen}")


def test_keyboard_alone_runs_the_main_flow(page, servers):
    load(page, servers)
    tab_to(page, "Chat with us")
    page.keyboard.press("Enter")
    expect(page.locator(".cc-panel")).to_be_visible()
    assert focused(page).startswith("input#clinic-chat-input")
    wait_for_reply(page)

    page.keyboard.type("does it hurt?")
    page.keyboard.press("Enter")
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("cold")
    # The answer is announced through the live region.
    expect(page.get_by_role("status")).to_contain_text("cold")

    tab_to(page, "What happens at a visit?", backwards=True)
    page.keyboard.press("Enter")
    assert focused(page).startswith("input#clinic-chat-input")
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("consultation")

    messages = page.locator(".cc-message").count()
    page.keyboard.press("Escape")
    expect(page.locator(".cc-panel")).to_be_hidden()
    assert "Chat with us" in focused(page)
    expect(page.get_by_role("button", name="Chat with us")).to_have_attribute("aria-expanded", "false")

    # Open again with Space: the conversation is still there.
    page.keyboard.press("Space")
    expect(page.locator(".cc-panel")).to_be_visible()
    expect(page.locator(".cc-message")).to_have_count(messages)


def test_on_a_phone_tab_stays_inside_the_full_screen_panel(browser, servers):
    page = new_page(browser, servers, viewport=PHONE_SCREEN)
    try:
        load(page, servers)
        tab_to(page, "Chat with us")
        page.keyboard.press("Enter")
        wait_for_reply(page)
        tab_to(page, "Send")
        page.keyboard.press("Tab")  # past the last control: back to the panel's first
        assert focused(page).startswith(f"a#.: Call {PHONE}")
        page.keyboard.press("Shift+Tab")
        assert "Send" in focused(page)
        check_page_behaved(page, servers)
    finally:
        page.context.close()


def test_every_control_has_a_name(page, servers):
    open_chat(page, servers)
    for role, name in [("button", "Close chat"), ("button", "Start over"), ("button", "Send"),
                       ("textbox", "Your message"), ("dialog", CLINIC.name),
                       ("list", "Conversation")]:
        expect(page.get_by_role(role, name=name)).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE_SCREEN], ids=["desktop", "phone"])
def test_axe_finds_no_serious_problems(browser, servers, viewport):
    page = new_page(browser, servers, viewport=viewport)
    try:
        load(page, servers)
        assert serious_violations(page) == []  # the page with the launcher
        page.get_by_role("button", name="Chat with us").click()
        wait_for_reply(page)
        send(page, "I want to book an appointment")  # links and quick replies
        assert serious_violations(page) == []
    finally:
        page.context.close()


def test_reduced_motion_stops_the_animations(browser, servers):
    page = new_page(browser, servers, reduced_motion="reduce")
    try:
        load(page, servers)
        page.get_by_role("button", name="Chat with us").click()
        for selector in (".cc-panel", ".cc-dot"):
            name = page.locator(selector).first.evaluate("e => getComputedStyle(e).animationName")
            assert name == "none", selector
        wait_for_reply(page)
        check_page_behaved(page, servers)
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport, name", [(PHONE_SCREEN, "phone-360"), (DESKTOP, "desktop")])
def test_screenshots_fit_the_screen(browser, servers, viewport, name):
    page = new_page(browser, servers, viewport=viewport)
    try:
        load(page, servers)
        screenshot(page, f"{name}-closed")
        page.get_by_role("button", name="Chat with us").click()
        wait_for_reply(page)
        send(page, "does it hurt?")
        send(page, "I'd like to book a visit")
        screenshot(page, f"{name}-open")
        panel = page.locator(".cc-panel").bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= viewport["width"]
        assert panel["y"] >= 0 and panel["y"] + panel["height"] <= viewport["height"]
        # Nothing in the panel is wider than the screen (no sideways scrolling).
        widths = page.locator(".cc-panel").evaluate("p => [p.scrollWidth, p.clientWidth]")
        assert widths[0] <= widths[1]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        check_page_behaved(page, servers)
    finally:
        page.context.close()
