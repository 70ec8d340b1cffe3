"""The chat widget on the demo page, in Chromium, against the real Rasa and action servers:
conversations, quick replies, links, the callback request, text that must never become HTML,
and a conversation that survives a reload until the visitor starts over."""
import json
import re
import sqlite3

import requests
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE, TEL, last_bot, load, open_chat, send, sender_id, wait_for_reply,
)


def test_page_is_served_with_a_strict_csp_and_rasa_allows_only_its_origin(servers):
    reply = requests.get(servers.web_origin + "/", timeout=10)
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert f"connect-src {servers.public_rasa_url};" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "Set-Cookie" not in reply.headers
    assert PHONE in reply.text and "ice packs" in reply.text
    assert requests.get(servers.web_origin + "/../content/clinic.yml", timeout=10).status_code == 404

    def preflight(origin):
        return requests.options(
            servers.webhook, timeout=10,
            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"},
        ).headers.get("Access-Control-Allow-Origin")

    assert preflight(servers.web_origin) == servers.web_origin
    assert preflight("http://evil.example") is None


def test_question_quick_reply_and_source_link(page, servers):
    open_chat(page, servers)
    send(page, "does it hurt?")
    answer = last_bot(page)
    expect(answer).to_contain_text("cold")
    source = answer.locator("a[href^='https://']").first
    expect(source).to_have_attribute("rel", "noopener noreferrer")
    expect(source).to_have_attribute("target", "_blank")

    answered = page.locator(".cc-message").count()
    page.get_by_role("button", name="What happens at a visit?").click()
    # The visitor sees the button's title, not its payload, and the old choices are gone.
    expect(page.locator(".cc-user").last).to_have_text("You said: What happens at a visit?")
    expect(page.locator(".cc-message").nth(answered - 1).locator(".cc-replies")).to_have_count(0)
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("consultation")
    assert "/ask_session_details" not in page.locator(".cc-log").inner_text()


def test_callback_request_runs_to_its_end(page, servers):
    open_chat(page, servers)
    send(page, "I'd like to book an appointment")
    call = page.locator(".cc-log a.cc-action", has_text=PHONE).last
    expect(call).to_have_attribute("href", TEL)
    assert call.get_attribute("target") is None  # the dialler, not a new tab
    # The number inside the answer's text is a tel: link, too.
    expect(page.locator(".cc-bubble a.cc-phone").last).to_have_attribute("href", TEL)
    page.get_by_role("button", name="Yes, please").click()
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("name")
    send(page, "Dana Whitfield")
    expect(last_bot(page)).to_contain_text("phone number")
    send(page, "636 555 0188")
    expect(last_bot(page)).to_contain_text("good time")
    send(page, "tuesday after lunch")
    page.get_by_role("button", name="Yes, please").click()
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("front desk")
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot'", (sender_id(page),)
        ).fetchall()
    events = [json.loads(data) for (data,) in rows]
    assert ("callback_status", "submitted") in [(e["name"], e["value"]) for e in events]
    assert ("callback_phone", "(636) 555-0188") in [(e["name"], e["value"]) for e in events]


HOSTILE = (
    '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    " <b>bold?</b> [click](javascript:window.pwned=3)"
)


def test_html_from_the_visitor_shows_as_text_and_runs_nothing(page, servers):
    open_chat(page, servers)
    send(page, HOSTILE)
    mine = page.locator(".cc-user .cc-bubble").last
    expect(mine).to_have_text(HOSTILE)
    assert page.locator(".cc-log img, .cc-log script, .cc-log b").count() == 0
    assert page.locator(".cc-log a[href^='javascript']").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert not [url for url in page.requests if url.endswith("/x")]


def test_html_in_bot_messages_shows_as_text_and_only_safe_links_work(page, servers):
    # The bot never echoes the visitor, so the stored transcript is the way to hand the
    # renderer hostile bot text: the same code path renders it after a reload.
    load(page, servers)
    transcript = [
        {"from": "bot", "text": HOSTILE + "\n\n**Bold** and [a source](https://example.org/a)",
         "buttons": [{"title": "Evil", "url": "javascript:window.pwned=4"},
                     {"title": "Call us", "url": TEL},
                     {"title": "<i>Reply</i>", "payload": "/greet"}]},
    ]
    page.evaluate(
        "t => { sessionStorage.setItem('clinicChat.transcript', JSON.stringify(t));"
        " sessionStorage.setItem('clinicChat.open', 'true'); }",
        transcript,
    )
    page.reload()
    bubble = last_bot(page).locator(".cc-bubble")
    expect(bubble).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(bubble.locator("strong")).to_have_text("Bold")
    expect(bubble.locator("a")).to_have_attribute("href", "https://example.org/a")
    assert bubble.locator("img, script, b, a[href^='javascript']").count() == 0
    # The javascript: button is dropped; the tel: one is a link; titles stay text.
    expect(last_bot(page).locator(".cc-actions a")).to_have_count(1)
    expect(last_bot(page).locator(".cc-actions a")).to_have_attribute("href", TEL)
    expect(page.get_by_role("button", name="<i>Reply</i>")).to_be_visible()
    assert page.evaluate("() => window.pwned") is None


def test_reload_keeps_the_conversation_and_start_over_begins_a_new_one(page, servers):
    open_chat(page, servers)
    send(page, "how much does it cost")
    before = page.locator(".cc-log").inner_text()
    count = page.locator(".cc-message").count()
    sender = sender_id(page)
    assert re.fullmatch(r"[0-9a-f]{32}", sender)

    page.reload()
    expect(page.locator(".cc-panel")).to_be_visible()
    expect(page.locator(".cc-message")).to_have_count(count)
    assert page.locator(".cc-log").inner_text() == before
    assert sender_id(page) == sender
    send(page, "and is it safe?")  # the same conversation goes on
    assert sender_id(page) == sender

    page.get_by_role("button", name="Start over").click()
    wait_for_reply(page)
    expect(page.locator(".cc-message")).to_have_count(1)
    expect(page.locator(".cc-bot")).to_contain_text("automated")
    assert sender_id(page) not in (sender, None)
    with sqlite3.connect(servers.tracker_db) as db:
        senders = {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events")}
    assert {sender, sender_id(page)} <= senders


def test_another_tab_starts_its_own_conversation(page, servers):
    open_chat(page, servers)
    other = page.context.new_page()  # sessionStorage belongs to a tab
    load(other, servers)
    expect(other.locator(".cc-panel")).to_be_hidden()
    assert other.locator(".cc-message").count() == 0
    assert sender_id(other) != sender_id(page)
    other.close()
