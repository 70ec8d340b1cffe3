"""The callback request: extraction and validation through ValidateCallbackForm.run() (as
rasa_sdk's executor calls it), the ask/submit/cancel actions, and us_phone().

Privacy: every message the form sends is one of the fixed texts in answers.yml, and nothing the
visitor typed (name, phone digits) ever comes back."""
import pytest
from rasa_sdk.events import SlotSet

from actions.callback_form import (
    ActionAskCallbackConsent,
    ActionAskCallbackName,
    ActionAskCallbackPhone,
    ActionAskCallbackTime,
    ActionCancelCallback,
    ActionSubmitCallback,
    ValidateCallbackForm,
    is_question,
)
from actions import callback_form
from actions.replies import CONTENT
from actions.thresholds import THRESHOLDS
from clinic.content import us_phone
from clinic.names import CALLBACK_FORM_SLOTS
from tests.clinic_facts import CLINIC

MESSAGES = CONTENT.messages
FIXED_TEXTS = set(MESSAGES.values())
PHONE_BUTTON = CLINIC.phone_button  # from clinic.yml in the content folder in use
NAME, PHONE, TIME = "Zebulon Quackenbush", "636 555 0199", "after 4 pm on Tuesdays"


def assert_private(messages, *typed):
    for message in messages:
        assert message["text"] in FIXED_TEXTS  # fixed wording: nothing interpolated
        for value in typed:  # (short fragments like "555" occur in the example number)
            digits = "".join(c for c in value if c.isdigit())
            if len(value.strip()) >= 4 and not value.isdigit():
                assert value not in message["text"] and value not in str(message.get("buttons"))
            if len(digits) >= 7:
                assert digits not in "".join(c for c in message["text"] if c.isdigit())


def fill(make_tracker, run_action, requested, text, intent="out_of_scope", confidence=0.4, slots=None):
    """One visitor message while the form asks for `requested`; returns (messages, events)."""
    tracker = make_tracker("callback_form", text=text, intent=intent, confidence=confidence,
                           slots={"requested_slot": requested, **(slots or {})})
    messages, events = run_action(ValidateCallbackForm(), tracker)
    assert_private(messages, text)
    return messages, events


def test_fixture_name_is_accepted(make_tracker, run_action):
    messages, events = run_action(ValidateCallbackForm(), make_tracker("callback_form"))
    assert (messages, events) == ([], [SlotSet("callback_name", "Sam")])


@pytest.mark.parametrize("requested, text, intent, value", [
    ("callback_name", NAME, "out_of_scope", NAME),
    ("callback_name", "  Mary   Ann  O'Neil ", "greet", "Mary Ann O'Neil"),
    ("callback_name", "José", "nlu_fallback", "José"),
    ("callback_time", "weekday mornings", "out_of_scope", "weekday mornings"),
    ("callback_time", TIME, "nlu_fallback", TIME),
    ("callback_consent", "yes please", "affirm", True),
    ("callback_consent", "no", "deny", False),
])
def test_good_answers_are_accepted(requested, text, intent, value, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, requested, text, intent)
    assert messages == [] and events == [SlotSet(requested, value)]


@pytest.mark.parametrize("text", [
    "314-555-0123", "(314) 555 0123", "+1 314 555 0123", "3145550123", "314.555.0123",
    "1-314-555-0123", "my number is 314 555 0123", " (314)555-0123 ",
])
@pytest.mark.parametrize("intent, confidence", [("out_of_scope", 0.4), ("ask_cost", 0.95)])
def test_good_phones_are_normalised(text, intent, confidence, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, "callback_phone", text, intent, confidence)
    assert messages == [] and events == [SlotSet("callback_phone", "(314) 555-0123")]


@pytest.mark.parametrize("text", [
    "555", "12345", "011 234 5678", "(111) 555-1234", "call me maybe", "three one four five",
    "314-555-01234", "911-555-0123", "314 155 0123", "+44 20 7946 0958",
])
def test_bad_phones_are_rejected(text, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, "callback_phone", text)
    assert [m["text"] for m in messages] == [MESSAGES["bad_callback_phone"]]
    assert events == [SlotSet("callback_phone", None)]


@pytest.mark.parametrize("requested, text, key", [
    ("callback_name", "12345", "bad_callback_name"),
    ("callback_name", "!!! ???", "bad_callback_name"),
    ("callback_name", "A" * 61, "bad_callback_name"),
    ("callback_time", "x" * 101, "bad_callback_time"),
])
def test_bad_names_and_times_are_rejected(requested, text, key, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, requested, text)
    assert [m["text"] for m in messages] == [MESSAGES[key]]
    assert events == [SlotSet(requested, None)]


@pytest.mark.parametrize("requested", ["callback_name", "callback_time"])
@pytest.mark.parametrize("intent", ["ask_cost", "ask_does_it_hurt", "ask_location_hours"])
def test_confident_question_is_left_to_the_rules(requested, intent, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, requested, "how much is it?", intent, 0.9)
    assert (messages, events) == ([], [])


@pytest.mark.parametrize("requested, text", [
    ("callback_name", "I can't control my bladder"), ("callback_phone", "stop"),
    ("callback_phone", "no 314 555 0123 is not mine"), ("callback_time", "no thanks"),
])
@pytest.mark.parametrize("intent", ["emergency", "stop", "deny"])
def test_emergency_stop_and_deny_extract_nothing(requested, text, intent, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, requested, text, intent, 0.99)
    assert (messages, events) == ([], [])


@pytest.mark.parametrize("text", ["now", "no preference", "not before 10am", "no, any time is fine",
                                  "Not on Mondays", "asap please"])
@pytest.mark.parametrize("intent", ["stop", "deny"])
def test_a_time_that_reads_as_stop_or_no_is_an_answer(text, intent, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, "callback_time", text, intent, 0.99)
    assert messages == [] and events == [SlotSet("callback_time", text)]


@pytest.mark.parametrize("text", ["stop", "never mind", "cancel that", "no thanks"])
def test_stopping_at_the_time_question_still_stops(text, make_tracker, run_action):
    assert fill(make_tracker, run_action, "callback_time", text, "stop", 0.99) == ([], [])


@pytest.mark.parametrize("requested, text", [
    ("callback_name", "i want to talk to a person"), ("callback_name", "bye"),
    ("callback_phone", "book appointment"), ("callback_time", "tell me more"),
    ("callback_consent", "can i speak to someone"),
])
@pytest.mark.parametrize("intent", ["ask_human", "book_appointment", "goodbye", "tell_me_more"])
def test_person_booking_goodbye_and_more_are_left_to_the_rules(requested, text, intent,
                                                                make_tracker, run_action):
    """Never taken as a name, number, time or consent: the rules answer them
    (data/rules/callback_form.yml)."""
    assert fill(make_tracker, run_action, requested, text, intent, 0.95) == ([], [])
    assert fill(make_tracker, run_action, requested, text, intent, THRESHOLDS["form_sure"]) == ([], [])


@pytest.mark.parametrize("requested, text, intent", [
    ("callback_name", "Hunter Book", "book_appointment"),
    ("callback_name", "Joy", "goodbye"),
    ("callback_time", "tuesday after lunch", "goodbye"),
    ("callback_time", "any time, really", "ask_human"),
    ("callback_name", "Morgan", "tell_me_more"),
])
def test_an_unsure_guess_does_not_swallow_the_answer(requested, text, intent, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, requested, text, intent, THRESHOLDS["form_sure"] - 0.05)
    assert messages == [] and events == [SlotSet(requested, text)]


@pytest.mark.parametrize("intent", ["ask_human", "book_appointment", "goodbye"])
def test_a_phone_number_is_an_answer_even_if_it_reads_like_a_request(intent, make_tracker, run_action):
    messages, events = fill(make_tracker, run_action, "callback_phone", "call me at 314 555 0123",
                            intent, 0.95)
    assert messages == [] and events == [SlotSet("callback_phone", "(314) 555-0123")]


@pytest.mark.parametrize("intent", ["ask_cost", "stop", "emergency", "out_of_scope"])
def test_consent_needs_a_yes_or_no(intent, make_tracker, run_action):
    assert fill(make_tracker, run_action, "callback_consent", "maybe", intent, 0.99) == ([], [])


@pytest.mark.parametrize("requested", ["callback_phone", "callback_time", "callback_consent"])
def test_only_the_requested_slot_is_filled(requested, make_tracker, run_action):
    _, events = fill(make_tracker, run_action, requested, "Sam")
    assert all(e["name"] == requested for e in events)


def test_a_whole_request_never_repeats_name_or_phone(make_tracker, run_action):
    sent, slots = [], {}
    for requested, text, intent, ask in [
        ("callback_name", NAME, "out_of_scope", ActionAskCallbackName),
        ("callback_phone", "636 55", "out_of_scope", ActionAskCallbackPhone),  # a typo first
        ("callback_phone", PHONE, "out_of_scope", ActionAskCallbackPhone),
        ("callback_time", TIME, "nlu_fallback", ActionAskCallbackTime),
        ("callback_consent", "yes", "affirm", ActionAskCallbackConsent),
    ]:
        tracker = make_tracker("callback_form", slots={**slots, "requested_slot": requested})
        sent += run_action(ask(), tracker)[0]
        messages, events = fill(make_tracker, run_action, requested, text, intent, slots=slots)
        sent += messages
        slots.update({e["name"]: e["value"] for e in events})
    assert slots == {"callback_name": NAME, "callback_phone": "(636) 555-0199",
                     "callback_time": TIME, "callback_consent": True}
    sent += run_action(ActionSubmitCallback(), make_tracker("callback_form", slots=slots))[0]
    assert MESSAGES["bad_callback_phone"] in [m["text"] for m in sent]
    assert_private(sent, NAME, "Zebulon", "Quackenbush", PHONE, "(636) 555-0199", TIME)


@pytest.mark.parametrize("text, expected", [
    ("314-555-0123", "(314) 555-0123"), ("+1 (314) 555-0123", "(314) 555-0123"),
    ("13145550123", "(314) 555-0123"), ("1 800 555 0199", "(800) 555-0199"),
    ("212.555.0100", "(212) 555-0100"), ("tel: 636/555/0199", "(636) 555-0199"),
    ("", None), ("abc", None), ("555-0123", None), ("0123456789", None), ("1234567890", None),
    ("23145550123", None), ("314 055 0123", None), ("411 555 0123", None), ("311-555-0123", None),
    ("314-555-0123 ext 45", None), ("+44 20 7946 0958", None), ("3145550123 3145550123", None),
])
def test_us_phone(text, expected):
    assert us_phone(text) == expected


def test_the_form_uses_the_one_phone_rule():
    """One US-phone rule for the whole project: clinic.content.us_phone, which also checks
    the clinic's own number in clinic.yml (test_content.py)."""
    assert callback_form.us_phone is us_phone


CLEARED = [SlotSet(slot, None) for slot in CALLBACK_FORM_SLOTS]
FILLED = {"callback_name": NAME, "callback_phone": "(636) 555-0199", "callback_time": TIME}


@pytest.mark.parametrize("consent, key, status, buttons", [
    (True, "callback_saved", "submitted", []),
    (False, "callback_declined", "declined", [PHONE_BUTTON]),
    (None, "callback_declined", "declined", [PHONE_BUTTON]),
])
def test_submit_callback(consent, key, status, buttons, make_tracker, run_action):
    tracker = make_tracker("callback_form", slots={**FILLED, "callback_consent": consent,
                                                    "requested_slot": None})
    messages, events = run_action(ActionSubmitCallback(), tracker)
    assert [(m["text"], m["buttons"]) for m in messages] == [(MESSAGES[key], buttons)]
    assert events == [SlotSet("callback_status", status)] + CLEARED
    assert_private(messages, *FILLED.values())


def test_cancel_callback(make_tracker, run_action):
    messages, events = run_action(ActionCancelCallback(), make_tracker("callback_form", slots=FILLED))
    assert [(m["text"], m["buttons"]) for m in messages] == [(MESSAGES["callback_cancelled"], [PHONE_BUTTON])]
    assert events == [SlotSet("callback_status", "cancelled")] + CLEARED
    assert_private(messages, *FILLED.values())


@pytest.mark.parametrize("action, slot, buttons", [
    (ActionAskCallbackName, "callback_name", []),
    (ActionAskCallbackPhone, "callback_phone", []),
    (ActionAskCallbackTime, "callback_time", []),
    (ActionAskCallbackConsent, "callback_consent", ["/affirm", "/deny"]),
])
def test_ask_actions(action, slot, buttons, make_tracker, run_action, domain):
    assert action().name() == f"action_ask_{slot}"
    assert slot in domain["forms"]["callback_form"]["required_slots"]
    messages, events = run_action(action(), make_tracker("callback_form", slots=FILLED))
    assert [m["text"] for m in messages] == [MESSAGES[f"ask_{slot}"]] and events == []
    assert [b["payload"] for b in messages[0]["buttons"]] == buttons
    assert_private(messages, *FILLED.values())


@pytest.mark.parametrize(
    "text, confidence, question",
    [
        ("wait, does the ice treatment hurt?", 0.78, True),
        ("is it covered by insurance", 0.4, True),
        ("how long does it take", 0.31, True),
        ("cost", 0.85, True),
        ("Dana Whitfield", 0.6, False),
        ("after 5 on weekdays", 0.5, False),
        ("what?", 0.2, False),
    ],
)
def test_is_question(text, confidence, question):
    assert is_question(text, confidence) is question


def test_outcome_messages_promise_nothing_untrue():
    """The front desk will *try* to call (no promised time); a stopped or declined request
    was not sent (its slot events stay in the transcript, so "nothing was saved" is false)."""
    saved = MESSAGES["callback_saved"]
    assert "try to call you back" in saved and "around the time" not in saved
    assert CLINIC.phone in saved and "911" in saved
    for key in ("callback_declined", "callback_cancelled"):
        assert "front desk won't call you" in MESSAGES[key]
        assert "saved" not in MESSAGES[key].lower()
    assert "was not sent" in MESSAGES["callback_cancelled"]
