"""actions/callback_form.py: a reply to the callback offer that says when, or gives a number,
takes the offer up; nothing else does."""
import pytest
from rasa_sdk import Tracker

from actions.callback_form import offer_taken_up
from actions.replies import CONTENT

OFFER = {"event": "bot", "text": CONTENT.messages["offer_callback"]}


def tracker(text, before=(OFFER,), level="none"):
    events = [{"event": "user", "text": "i want to book"}, {"event": "action", "name": "action_handoff"},
              *before, {"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]
    latest = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.3},
              "triage": {"level": level, "flags": [], "language": "en"}}
    return Tracker("visitor", {}, latest, events, False, None, {}, "action_listen")


def taken_up(tracker):
    events = offer_taken_up(tracker)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, \
        [e["name"] for e in events if e["event"] == "followup"]


@pytest.mark.parametrize("text, slot", [
    ("after lunch pls", "callback_time"), ("tmrw morning", "callback_time"),
    ("anytime after 3pm", "callback_time"), ("thursdays work", "callback_time"),
    ("314 555 0199", "callback_phone"), ("my cell is 636-555-0117", "callback_phone"),
])
def test_a_short_answer_that_says_when_or_gives_a_number_starts_the_form(text, slot):
    assert taken_up(tracker(text)) == ({slot: text}, ["callback_form"])


@pytest.mark.parametrize("text", [
    "not right now", "no thanks, maybe tomorrow", "I'd prefer not to", "doesn't matter to me",
    "I've had pain for 3 days", "I'm 45 and my back hurts", "what are your hours on saturday",
    "before I commit, is it safe?", "since 03/14/2024", "Sam",
    "I started a new job in the warehouse on monday and since then my lower back aches every "
    "evening when I get home",  # a story, not an answer
])
def test_anything_else_is_left_to_the_rules(text):
    assert offer_taken_up(tracker(text)) == []


def test_only_right_after_the_offer_in_the_same_session():
    assert offer_taken_up(tracker("tomorrow", before=())) == []
    new_session = ({"event": "session_started"}, {"event": "action", "name": "action_listen"},
                   {"event": "user", "text": "hi"}, {"event": "bot", "text": "Hi"})
    assert offer_taken_up(tracker("tomorrow", before=(OFFER,) + new_session[:2])) == []
    rollover = ({"event": "session_started", "metadata": {"rollover": True}},)
    assert offer_taken_up(tracker("tomorrow", before=(OFFER,) + rollover)) != []


def test_never_at_triage_level_possible():
    assert offer_taken_up(tracker("today if possible", level="possible")) == []
