"""Visitors' verdicts on answers: the REST channel lets through only the widget's verdict and
reason payloads with their fixed values, and action_record_verdict records one verdict per
answer given (and one reason per "not helpful") as the answer_verdict slot."""
import json

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.replies import CONTENT
from actions.verdicts import ActionRecordVerdict
from channels.rest import button_intents, read_payload
from tests.unit.conftest import load_tracker

MESSAGES = CONTENT.messages
ALLOWED = button_intents()


@pytest.mark.parametrize("payload", [
    '/rate_answer{"answer":"ask_cost","verdict":"helpful"}',
    '/rate_answer{"answer": "ask_safety", "verdict": "not_helpful"}',
    '/explain_verdict{"answer":"ask_cost","reason":"did_not_answer"}',
])
def test_the_widgets_verdict_payloads_pass(payload):
    assert read_payload(payload, ALLOWED) == payload


@pytest.mark.parametrize("payload", [
    '/rate_answer{"answer":"ask_cost","verdict":"great"}',                 # not a verdict
    '/rate_answer{"answer":"ask_cost"}',                                    # no verdict
    '/rate_answer{"answer":"ask_cost","verdict":"helpful","note":"hi"}',    # free text
    '/rate_answer{"answer":"Robert 314 555 0100","verdict":"helpful"}',     # not a name
    '/explain_verdict{"answer":"ask_cost","reason":"I hated it"}',
    '/ask_cost{"answer":"ask_cost","verdict":"helpful"}',                   # entities elsewhere
    '/emergency{"answer":"ask_cost","verdict":"helpful"}',
    '/rate_answer{not json}',
])
def test_anything_else_is_read_as_words(payload):
    assert read_payload(payload, ALLOWED) == payload.lstrip("/")


def tracker_with(intent, entities, verdicts=(), answered="ask_cost"):
    """after_answer.json (ask_cost answered), with earlier verdicts and the latest message."""
    tracker = load_tracker("after_answer", intent=intent, text=f"/{intent}",
                           entities=entities.items())
    state = tracker.current_state()
    events = state["events"]
    for event in events:
        if event.get("name") == "last_answer":
            event["value"] = answered
    at = len(events) - 1  # before the latest message
    events[at:at] = [{"event": "slot", "name": "answer_verdict", "value": v} for v in verdicts]
    return Tracker.from_dict(state)


def run(tracker):
    from tests.unit.conftest import run_action
    return run_action(ActionRecordVerdict(), tracker)


def test_helpful_is_recorded_and_thanked():
    messages, events = run(tracker_with("rate_answer", {"answer": "ask_cost", "verdict": "helpful"}))
    assert [m["text"] for m in messages] == [MESSAGES["verdict_thanks"]]
    assert events == [SlotSet("answer_verdict", "ask_cost:helpful")]


def test_not_helpful_asks_for_one_of_two_reasons_and_gives_the_phone():
    messages, events = run(tracker_with("rate_answer", {"answer": "ask_cost",
                                                        "verdict": "not_helpful"}))
    assert [m["text"] for m in messages] == [MESSAGES["verdict_ask_reason"]]
    payloads = [b.get("payload") or b.get("url") for b in messages[0]["buttons"]]
    assert payloads[:2] == [
        "/explain_verdict" + json.dumps({"answer": "ask_cost", "reason": r}, separators=(",", ":"))
        for r in ("not_what_i_asked", "did_not_answer")]
    assert payloads[2].startswith("tel:")
    assert all(read_payload(p, ALLOWED) == p for p in payloads[:2])
    assert events == [SlotSet("answer_verdict", "ask_cost:not_helpful")]


def test_the_reason_is_recorded_once_after_not_helpful():
    entities = {"answer": "ask_cost", "reason": "did_not_answer"}
    messages, events = run(tracker_with("explain_verdict", entities, ["ask_cost:not_helpful"]))
    assert [m["text"] for m in messages] == [MESSAGES["verdict_reason_thanks"]]
    assert events == [SlotSet("answer_verdict", "ask_cost:not_helpful:did_not_answer")]
    twice = ["ask_cost:not_helpful", "ask_cost:not_helpful:did_not_answer"]
    assert run(tracker_with("explain_verdict", entities, twice))[1] == []


@pytest.mark.parametrize("intent, entities, verdicts, answered", [
    ("rate_answer", {"answer": "ask_cost", "verdict": "helpful"}, ["ask_cost:helpful"], "ask_cost"),
    ("rate_answer", {"answer": "ask_cost", "verdict": "not_helpful"}, ["ask_cost:helpful"],
     "ask_cost"),
    ("rate_answer", {"answer": "ask_safety", "verdict": "helpful"}, [], "ask_cost"),  # not given
    ("rate_answer", {"answer": "emergency", "verdict": "helpful"}, [], "emergency"),
    ("explain_verdict", {"answer": "ask_cost", "reason": "did_not_answer"}, [], "ask_cost"),
    ("explain_verdict", {"answer": "ask_cost", "reason": "did_not_answer"}, ["ask_cost:helpful"],
     "ask_cost"),
])
def test_a_second_verdict_or_one_on_no_answer_is_not_recorded(intent, entities, verdicts, answered):
    messages, events = run(tracker_with(intent, entities, verdicts, answered))
    assert [m["text"] for m in messages] == [MESSAGES["verdict_not_recorded"]] and events == []


def test_the_same_answer_given_again_can_be_rated_again():
    tracker = tracker_with("rate_answer", {"answer": "ask_cost", "verdict": "helpful"},
                           ["ask_cost:helpful"])
    state = tracker.current_state()
    state["events"][-1:-1] = [{"event": "slot", "name": "last_answer", "value": "ask_cost"}]
    assert run(Tracker.from_dict(state))[1] == [SlotSet("answer_verdict", "ask_cost:helpful")]
