"""When the Rasa server hangs or is down, the visitor gets the clinic's phone number, keeps the
text they typed, and can try again once the server is back. The real Rasa server is paused
(SIGSTOP) or stopped, then resumed or restarted (the `servers` fixture is per module, so no other
module's tests see this)."""
import json
import signal

from playwright.sync_api import expect

from tests.browser.conftest import (
    CLINIC, PHONE, TEL, last_bot, open_chat, serious_violations, wait_for_reply,
)

# The widget gives up after 15 s (the REST channel itself answers within 10 s).
WIDGET_TIMEOUT_MS = 15_000


def type_and_send(page, text):
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")


def test_a_hanging_server_times_out_and_retry_works(page, servers):
    open_chat(page, servers)
    sent = []
    page.on("request", lambda request: sent.append(json.loads(request.post_data))
            if request.method == "POST" and "/webhooks/rest/webhook" in request.url else None)
    servers.rasa.send_signal(signal.SIGSTOP)
    try:
        type_and_send(page, "what is cryotherapy")
        notice = page.locator(".cc-notice")
        expect(notice).to_contain_text("taking too long", timeout=WIDGET_TIMEOUT_MS + 10_000)
        expect(notice).to_contain_text(PHONE)
        expect(page.get_by_label("Your message")).to_have_value("what is cryotherapy")
    finally:
        servers.rasa.send_signal(signal.SIGCONT)
    page.get_by_role("button", name="Try again").click()
    wait_for_reply(page)
    expect(page.locator(".cc-notice")).to_be_hidden()
    expect(last_bot(page)).to_contain_text("ice pack")
    expect(page.get_by_label("Your message")).to_have_value("")
    # "Try again" sends the same message id, marked as a retry, so that a server which did
    # answer the first time sends that answer instead of a second one (channels/rest.py).
    first, again = sent[-2], sent[-1]
    assert first["message"] == again["message"] == "what is cryotherapy"
    assert first["message_id"] == again["message_id"] and len(first["message_id"]) == 32
    assert (first["retry"], again["retry"]) == (False, True)


def test_a_stopped_server_gives_the_phone_number_and_keeps_the_text(page, servers):
    open_chat(page, servers)
    messages = page.locator(".cc-message").count()
    servers.rasa.send_signal(signal.SIGINT)
    servers.rasa.wait(timeout=30)
    try:
        type_and_send(page, "how much does a visit cost?")
        notice = page.locator(".cc-notice")
        expect(notice).to_contain_text(f"can't reach {CLINIC.name}")
        expect(notice).to_contain_text(PHONE)
        expect(notice.get_by_role("link", name=f"Call {PHONE}")).to_have_attribute("href", TEL)
        expect(page.get_by_role("status")).to_contain_text(PHONE)  # announced, too
        # The text is back in the box, not lost in a transcript bubble that never got sent.
        expect(page.get_by_label("Your message")).to_have_value("how much does a visit cost?")
        expect(page.locator(".cc-message")).to_have_count(messages)
        assert serious_violations(page) == []
        # A reload keeps the unsent text, too.
        page.reload()
        expect(page.get_by_label("Your message")).to_have_value("how much does a visit cost?")
    finally:
        servers.start_rasa()
    page.get_by_label("Your message").press("Enter")
    wait_for_reply(page)
    # The cost answer: "The initial consultation is free." only when clinic.yml says so.
    expect(last_bot(page)).to_contain_text("free" if CLINIC.free_initial_consultation else PHONE)
    expect(page.locator(".cc-notice")).to_be_hidden()
