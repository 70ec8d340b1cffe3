"""Safety triage in the widget (issue 9), in Chromium against the real page, Rasa server and action
server: the emergency reply to a real red-flag message is a red card with big tel: buttons,
announced at once (role="alert"); the safety line before an ordinary answer is amber and
announced politely. One more test feeds the widget hand-made replies (Playwright answers the
webhook) to show that nothing in `custom` but the two known kinds has any effect."""
import json
import re
from typing import Dict, List, Tuple

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_widget_accessibility import tab_to
from tests.browser.conftest import (
    PHONE, PHONE_SCREEN, TEL, check_page_behaved, last_bot, new_page, open_chat, screenshot,
    serious_violations, wait_for_reply,
)

RED_FLAG = "I can't control my bladder since this morning and my back hurts"
SELF_HARM = "I want to kill myself, my back pain is too much"
POSSIBLE = "does cryotherapy help if I have a fever?"
CALL_911 = ("Call 911", "tel:911")
CALL_988 = ("Call or text 988", "tel:988")
MIN_TARGET_PX = 44


def send_and_capture(page: Page, text: str) -> List[Dict]:
    """Sends `text` as the visitor and returns the server's JSON reply as the widget got it."""
    with page.expect_response(lambda r: r.url.endswith("/webhooks/rest/webhook")
                              and r.request.method == "POST") as caught:
        page.get_by_label("Your message").fill(text)
        page.get_by_label("Your message").press("Enter")
    wait_for_reply(page)
    return caught.value.json()


def calls(card) -> List[Tuple[str, str]]:
    links = card.locator("a")
    return [(links.nth(i).inner_text(), links.nth(i).get_attribute("href"))
            for i in range(links.count())]


def rgb(colour: str) -> Tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", colour)[:3])


def contrast(a: Tuple[int, ...], b: Tuple[int, ...]) -> float:
    def luminance(c):
        parts = [v / 255 for v in c]
        parts = [p / 12.92 if p <= 0.03928 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
        return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def style(locator, prop: str) -> str:
    return locator.evaluate(f"e => getComputedStyle(e).{prop}")


@pytest.fixture
def phone(browser, servers):
    page = new_page(browser, servers, viewport=PHONE_SCREEN)
    yield page
    check_page_behaved(page, servers)
    page.context.close()


def test_red_flag_message_gets_the_emergency_card_on_a_phone(phone, servers):
    open_chat(phone, servers)
    replies = send_and_capture(phone, RED_FLAG)
    # The server's side of the interface: the first reply is the emergency, marked as such.
    assert replies[0]["custom"] == {"kind": "emergency"}
    assert [(b["title"], b["url"]) for b in replies[0]["buttons"]] == [CALL_911, CALL_988]

    cards = phone.locator(".cc-log .cc-emergency")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card).to_have_class("cc-message cc-bot cc-emergency")
    bubble = card.locator(".cc-bubble")
    expect(bubble).to_have_attribute("role", "alert")
    expect(bubble).to_contain_text("call 911 or go to the nearest emergency room")
    # A screen reader hears "Emergency:" first; the icon itself is hidden from it.
    expect(bubble.locator(".cc-sr").first).to_have_text("Emergency: ")
    expect(bubble.locator("svg")).to_have_attribute("aria-hidden", "true")
    assert bubble.locator("svg image, svg use, img").count() == 0
    # The whole card as the accessibility tree has it: one alert with both calls.
    expect(phone.get_by_role("alert")).to_have_count(1)
    expect(phone.get_by_role("alert").get_by_role("link", name="Call 911")).to_have_attribute(
        "href", "tel:911")
    assert calls(bubble.locator(".cc-calls")) == [CALL_911, CALL_988]

    inner = bubble.locator(".cc-calls").bounding_box()
    for name, _ in (CALL_911, CALL_988):
        box = bubble.get_by_role("link", name=name).bounding_box()
        assert box["height"] >= MIN_TARGET_PX, (name, box)
        assert abs(box["width"] - inner["width"]) < 1 and box["width"] >= 300, (name, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_SCREEN["width"]
    # The card takes the conversation's whole width (its padding aside), not 88% as a bubble.
    room = phone.locator(".cc-log").evaluate(
        "e => e.clientWidth - parseFloat(getComputedStyle(e).paddingLeft)"
        " - parseFloat(getComputedStyle(e).paddingRight)")
    assert abs(card.bounding_box()["width"] - room) < 1

    # Red with white text, white buttons with dark red text: WCAG AA (4.5:1) and then some.
    background, text = rgb(style(bubble, "backgroundColor")), rgb(style(bubble, "color"))
    assert background == (179, 38, 30) and text == (255, 255, 255)
    assert contrast(background, text) >= 4.5
    for name, _ in (CALL_911, CALL_988):
        button = bubble.get_by_role("link", name=name)
        colours = rgb(style(button, "backgroundColor")), rgb(style(button, "color"))
        assert colours == ((255, 255, 255), (140, 29, 24)), name
        assert contrast(*colours) >= 4.5
    # An ordinary answer still looks ordinary.
    assert rgb(style(last_bot(phone).locator(".cc-bubble"), "backgroundColor")) == (241, 243, 245)

    # Announced by the alert, not a second time by the polite status; the rest of the reply is.
    status = phone.get_by_role("status")
    expect(status).to_contain_text("Source")
    assert "emergency room" not in status.inner_text()

    screenshot(phone, "phone-360-emergency")
    assert serious_violations(phone) == []
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]


def test_after_a_reload_the_card_stays_red_but_is_not_read_out_again(page, servers):
    open_chat(page, servers)
    send_and_capture(page, RED_FLAG)
    expect(page.get_by_role("alert")).to_have_count(1)
    page.reload()
    expect(page.locator(".cc-log .cc-emergency")).to_have_count(1)
    expect(page.locator(".cc-emergency .cc-calls a")).to_have_count(2)
    expect(page.get_by_role("alert")).to_have_count(0)
    # By keyboard: the call buttons are reached with Tab and show a white focus ring on the red.
    page.get_by_label("Your message").focus()
    tab_to(page, "Call or text 988", backwards=True)
    ring = page.locator(".cc-emergency .cc-calls a").nth(1)
    assert (style(ring, "outlineStyle"), rgb(style(ring, "outlineColor"))) == \
        ("solid", (255, 255, 255))
    # The next message takes the alert away from the old card, too.
    send_and_capture(page, "does it hurt?")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".cc-log .cc-emergency")).to_have_count(1)


def test_self_harm_puts_988_first(page, servers):
    open_chat(page, servers)
    replies = send_and_capture(page, SELF_HARM)
    assert replies[0]["custom"] == {"kind": "emergency"}
    card = page.locator(".cc-log .cc-emergency .cc-bubble")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("role", "alert")
    assert calls(card.locator(".cc-calls")) == [CALL_988, CALL_911]
    expect(card).to_contain_text("988")


def test_safety_line_is_amber_and_announced_politely(page, servers):
    open_chat(page, servers)
    replies = send_and_capture(page, POSSIBLE)
    assert replies[0]["custom"] == {"kind": "safety"}
    # The answer after it is marked only as a curated answer (for the "was this helpful?" row).
    assert all(r.get("custom", {"kind": "answer"})["kind"] == "answer" for r in replies[1:])
    safety = page.locator(".cc-log .cc-safety")
    expect(safety).to_have_count(1)
    bubble = safety.locator(".cc-bubble")
    expect(bubble).to_have_text("Safety note: " + replies[0]["text"])
    expect(bubble.locator("svg")).to_have_attribute("aria-hidden", "true")
    assert bubble.get_attribute("role") is None
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".cc-emergency")).to_have_count(0)
    assert rgb(style(bubble, "borderTopColor")) == (180, 83, 9)  # amber
    # The ordinary answer after it is an ordinary grey bubble.
    answer = page.locator(".cc-bot").last
    expect(answer).not_to_have_class(re.compile("cc-safety"))
    expect(answer).to_contain_text(replies[-1]["text"].split("\n")[0][:30])
    # The polite status reads both, the safety line first.
    status = page.get_by_role("status")
    expect(status).to_contain_text(replies[0]["text"])
    assert status.inner_text().index("If you") == 0
    assert serious_violations(page) == []


HOSTILE = '<img src=x onerror="window.pwned=1">'
STUBBED = [
    {"text": "unknown kind", "custom": {"kind": HOSTILE}},
    {"text": "kind as a string", "custom": "emergency"},
    {"text": "kind from the prototype", "custom": {"kind": "constructor"}},
    {"text": "kind as a list", "custom": {"kind": ["emergency"]}},
    {"text": "no kind", "custom": {"html": HOSTILE, "text": HOSTILE}},
    {"text": "safety with extras", "custom": {"kind": "safety", "html": HOSTILE}},
    None,
    "just a string",
    {"custom": {"kind": "emergency"}},  # nothing to show: dropped
]


def test_custom_parts_other_than_the_two_kinds_are_ignored_and_never_html(page, servers):
    """A rendering check with hand-made replies (the real-server tests above cover the real
    ones): Playwright answers the webhook POST itself."""
    open_chat(page, servers)

    def answer(route):
        if route.request.method != "POST":
            return route.continue_()
        route.fulfill(status=200, content_type="application/json", body=json.dumps(STUBBED),
                      headers={"Access-Control-Allow-Origin": servers.web_origin})

    page.route(servers.webhook, answer)
    page.get_by_label("Your message").fill("anything")
    page.get_by_label("Your message").press("Enter")
    wait_for_reply(page)
    bots = page.locator(".cc-bot")
    texts = [bots.nth(i).locator(".cc-bubble").text_content() for i in range(bots.count())][-6:]
    assert texts == ["unknown kind", "kind as a string", "kind from the prototype",
                     "kind as a list", "no kind", "Safety note: safety with extras"]
    classes = [bots.nth(i).get_attribute("class") for i in range(bots.count())][-6:]
    assert classes == ["cc-message cc-bot"] * 5 + ["cc-message cc-bot cc-safety"]
    expect(page.locator(".cc-emergency")).to_have_count(0)
    expect(page.get_by_role("alert")).to_have_count(0)
    assert page.locator(".cc-log img").count() == 0
    assert page.evaluate("() => window.pwned") is None
    # What is kept for a reload holds only the known kinds, and a tampered one is dropped.
    kept = page.evaluate("() => JSON.parse(sessionStorage.getItem('clinicChat.transcript'))")
    assert [m["kind"] for m in kept[-6:]] == [""] * 5 + ["safety"]
    kept[-1]["kind"] = HOSTILE
    kept[-2]["kind"] = "emergency"
    kept[-2]["text"] = f"Or call us at {PHONE}."
    page.evaluate("t => sessionStorage.setItem('clinicChat.transcript', JSON.stringify(t))", kept)
    page.unroute(servers.webhook)
    page.reload()
    expect(page.locator(".cc-bot").last).to_have_class("cc-message cc-bot")
    expect(page.locator(".cc-emergency")).to_have_count(1)  # a stored emergency stays red
    number = page.locator(".cc-emergency .cc-bubble a.cc-phone")
    expect(number).to_have_attribute("href", TEL)
    assert rgb(style(number, "color")) == (255, 255, 255)  # white on the red, not blue
    expect(page.get_by_role("alert")).to_have_count(0)  # but is not read out on a reload
    assert page.evaluate("() => window.pwned") is None


def test_an_emergency_arriving_while_the_panel_is_closed_is_announced_politely(page, servers):
    """The visitor closes the chat before the answer comes: the alert inside the hidden panel
    would be silent, so the status says it (with the word "Emergency")."""
    open_chat(page, servers)
    held = []
    page.route(servers.webhook, lambda route: held.append(route)
               if route.request.method == "POST" else route.continue_())
    page.get_by_label("Your message").fill(RED_FLAG)
    page.get_by_label("Your message").press("Enter")
    page.wait_for_function("() => document.querySelector('.cc-log').getAttribute('aria-busy') === 'true'")
    page.wait_for_timeout(100)
    assert len(held) == 1
    page.keyboard.press("Escape")
    expect(page.locator(".cc-panel")).to_be_hidden()
    held[0].continue_()  # to the real server
    expect(page.get_by_role("status")).to_contain_text("Emergency: This may be a medical emergency")
    page.get_by_role("button", name="Chat with us").click()
    expect(page.locator(".cc-log .cc-emergency")).to_have_count(1)
    expect(page.get_by_role("alert")).to_have_count(0)
    page.unroute(servers.webhook)
