"""Visitors' verdicts in the widget, in Chromium against the real servers: "Helpful" / "Not
helpful" under a curated answer (a labelled group, keyboard-usable, once), the two reasons after
"not helpful", and what the tracker store records."""
import json
import sqlite3

from playwright.sync_api import expect

from tests.browser.conftest import last_bot, open_chat, send, sender_id, wait_for_reply


def recorded_verdicts(servers, page):
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot'", (sender_id(page),)
        ).fetchall()
    return [e["value"] for e in map(json.loads, (d for (d,) in rows)) if e["name"] == "answer_verdict"]


def test_not_helpful_then_a_reason_by_keyboard_is_recorded_once(page, servers):
    open_chat(page, servers)
    send(page, "how much will this cost me?")
    group = page.get_by_role("group", name="Was this answer helpful?")
    expect(group).to_have_count(1)
    expect(last_bot(page).locator(".cc-verdict")).to_have_count(1)
    not_helpful = group.get_by_role("button", name="Not helpful")
    not_helpful.focus()
    page.keyboard.press("Enter")
    wait_for_reply(page)
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_have_count(0)
    expect(page.locator(".cc-user").last).to_have_text("You said: Not helpful")
    expect(last_bot(page)).to_contain_text("What was wrong")
    page.get_by_role("button", name="It didn't answer it").click()
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("Thank you")
    assert recorded_verdicts(servers, page) == ["ask_cost:not_helpful",
                                                "ask_cost:not_helpful:did_not_answer"]
    assert "/rate_answer" not in page.locator(".cc-log").inner_text()

    page.reload()  # the choice is remembered: no second chance to rate the same answer
    expect(last_bot(page)).to_contain_text("Thank you")
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_have_count(0)


def test_helpful_is_recorded_and_only_answers_offer_it(page, servers):
    open_chat(page, servers)
    expect(page.get_by_role("group", name="Was this answer helpful?")).to_have_count(0)  # greeting
    send(page, "is the cold treatment painful")
    page.get_by_role("group", name="Was this answer helpful?").get_by_role(
        "button", name="Helpful", exact=True).click()
    wait_for_reply(page)
    expect(last_bot(page)).to_contain_text("Thank you for letting us know")
    assert recorded_verdicts(servers, page) == ["ask_does_it_hurt:helpful"]
