"""The callback request: name, US phone number, preferred time and consent.

The visitor can stop at any point ("stop", "no", "bye"), ask a question in between, ask for a
person, ask to book, ask to hear more, or describe an emergency: those messages are left to the
rules (data/rules/callback_form.yml) by extracting nothing from them. Nothing the visitor typed
is ever repeated back.
"""
import hashlib
import os
import re
from typing import Any, Dict, List, Optional, Text, Tuple, Type

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.thresholds import THRESHOLDS
from actions.replies import (
    CONTENT, QUESTION_INTENTS, YES_NO, latest_intent, latest_triage, phone_button,
    say_safety_line,
)
from clinic.content import us_phone
from clinic.wording import reads_as_question
from clinic.names import (
    ACTION_CANCEL_CALLBACK, ACTION_SUBMIT_CALLBACK, ACTION_VALIDATE_CALLBACK_FORM, ASK_ACTIONS,
    CALLBACK_CANCELLED, CALLBACK_DECLINED, CALLBACK_FORM, CALLBACK_FORM_SLOTS, CALLBACK_OVER_LIMIT,
    CALLBACK_SUBMITTED, INTENT_EXPLAIN_VERDICT, INTENT_RATE_ANSWER, SLOT_CALLBACK_CONSENT,
    SLOT_CALLBACK_NAME, SLOT_CALLBACK_PHONE, SLOT_CALLBACK_STATUS, SLOT_CALLBACK_TIME,
    is_rollover,
)
from visitors.limits import LocalLimits

# Intents the rules answer instead of the form.
LEFT_TO_RULES = {"emergency", "stop", "deny", INTENT_RATE_ANSWER, INTENT_EXPLAIN_VERDICT}
# Also left to the rules, when the classifier is at least fairly sure: a name or a time can
# look like one of these ("Hunter Book" reads as booking), and a real "I want a person",
# "book an appointment", "bye", "tell me more" or "my back is killing me" comes out far above
# this (config.yml, thresholds.form_sure).
LEFT_TO_RULES_WHEN_SURE = {"ask_human", "book_appointment", "goodbye", "tell_me_more",
                           "describe_pain"}
# Words that make a message an answer to "when is a good time to call?".
TIME_WORDS = re.compile(
    r"\b(now|asap|soon|any ?time|whenever|prefer(ence)?|matter|either|morning|afternoon|"
    r"evening|night|noon|lunch|today|tonight|tomorrow|tmrw|weekdays?|weekends?|week|"
    r"(mon|tues?|wed(nes)?|thu(rs)?|fri|sat(ur)?|sun)(day)?s?|before|after|between|until|till|"
    r"early|late|o'?clock|\d{1,2}(:\d\d)?\s*(am|pm|a\.m\.|p\.m\.)?)\b",
    re.I,
)
# In reply to the callback offer only words that can only say when to call take it up: not
# "now" ("not right now"), "week" ("pain for a week") or a bare number ("I'm 45").
WHEN_TO_CALL = re.compile(
    r"\b(any ?time|whenever|mornings?|afternoons?|evenings?|tonight|noon|lunch ?(time|break)?|"
    r"lunchtime|today|tomorrow|tmrw|weekdays?|weekends?|(mon|tues?|wed(nes)?|thu(rs)?|fri|"
    r"sat(ur)?|sun)(day)?s?|\d{1,2}(:\d\d)?\s*(am|pm|a\.m\.|p\.m\.)|o'?clock)\b",
    re.I,
)
DECLINING = re.compile(r"^\W*(no|nope|nah|not|don'?t)\b", re.I)
MAX_NAME = 60
MAX_TIME = 100
# Callback requests one conversation, one address (a keyed hash the REST channel puts in the
# message's metadata) and one phone number may file: enough for a real visitor who corrects
# a request, too few to flood the front desk's queue. Settable for load tests.
CALLBACK_LIMITS = LocalLimits({
    "sender": (int(os.environ.get("CALLBACKS_PER_HOUR_PER_SENDER", 3)), 3600),
    "client": (int(os.environ.get("CALLBACKS_PER_HOUR_PER_ADDRESS", 5)), 3600),
    "phone": (int(os.environ.get("CALLBACKS_PER_DAY_PER_PHONE", 3)), 86400),
})


def reply_to(tracker: Tracker, slot: Text) -> Optional[Text]:
    """The visitor's text if it answers the form's question about `slot`, else None."""
    if tracker.get_slot("requested_slot") != slot:
        return None
    intent = tracker.latest_message.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence") or 0
    text = (tracker.latest_message.get("text") or "").strip()
    if name == "emergency":
        return None
    # Words of time answer the time question even when they read as stop or deny ("now", "no
    # preference", "not before 10am").
    if slot == SLOT_CALLBACK_TIME and TIME_WORDS.search(text):
        return text
    if name in LEFT_TO_RULES:
        return None
    if slot == SLOT_CALLBACK_PHONE and len(re.sub(r"\D", "", text)) >= 7:
        return text  # a number is an answer, whatever the classifier thought of it
    if name in LEFT_TO_RULES_WHEN_SURE and confidence >= THRESHOLDS["form_sure"]:
        return None
    if name in QUESTION_INTENTS and is_question(text, confidence):
        return None
    return text or None


def is_question(text: Text, confidence: float) -> bool:
    """A message classified as one of the FAQ questions is answered (and the form carries on)
    rather than taken as a name or a time when it reads like a question and the classifier is
    at least fairly sure, or when it is very sure (thresholds.form_question_like, form_question)."""
    return confidence >= THRESHOLDS["form_question"] or (
        reads_as_question(text) and confidence >= THRESHOLDS["form_question_like"])


def callback_just_offered(tracker: Tracker) -> bool:
    """Whether the bot's last words before the visitor's latest message, in this session,
    offered a callback (a new session after a pause may be someone else at the computer; a
    long conversation's rollover is no new visitor)."""
    messages = 0
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            messages += 1
            if messages > 1:
                return False
        elif kind == "restart" or (kind == "session_started" and not is_rollover(event)):
            return False
        elif kind == "bot" and messages == 1:
            return event.get("text") == CONTENT.messages["offer_callback"]
    return False


def offer_taken_up(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The callback offer answered, instead of "yes", with a short reply that gives a phone
    number or says when ("after lunch pls", "tmrw morning"): the visitor wants the call, so the
    form starts with that answer in place (the form validates it). Nothing for a question, a
    "no"/"not ...", a longer message, or at triage level `possible` (no booking to someone who
    may need the emergency room)."""
    if not callback_just_offered(tracker) or latest_triage(tracker).get("level") == "possible":
        return []
    text = (tracker.latest_message.get("text") or "").strip()
    if len(text) > MAX_TIME or reads_as_question(text) or DECLINING.match(text):
        return []
    if us_phone(text):
        slot = SLOT_CALLBACK_PHONE
    elif WHEN_TO_CALL.search(text):
        slot = SLOT_CALLBACK_TIME
    else:
        return []
    return [SlotSet(slot, text), FollowupAction(CALLBACK_FORM)]


def cleared_form() -> List[Dict[Text, Any]]:
    return [SlotSet(slot, None) for slot in CALLBACK_FORM_SLOTS]


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return ACTION_VALIDATE_CALLBACK_FORM

    async def run(self, dispatcher, tracker: Tracker, domain: DomainDict):
        # A red flag in an unclear context, mid-form: the safety line first, then the form.
        say_safety_line(dispatcher, tracker)
        return await super().run(dispatcher, tracker, domain)

    async def extract_callback_name(self, dispatcher, tracker: Tracker, domain: DomainDict):
        text = reply_to(tracker, SLOT_CALLBACK_NAME)
        return {SLOT_CALLBACK_NAME: text} if text else {}

    async def extract_callback_phone(self, dispatcher, tracker: Tracker, domain: DomainDict):
        text = reply_to(tracker, SLOT_CALLBACK_PHONE)
        return {SLOT_CALLBACK_PHONE: text} if text else {}

    async def extract_callback_time(self, dispatcher, tracker: Tracker, domain: DomainDict):
        text = reply_to(tracker, SLOT_CALLBACK_TIME)
        return {SLOT_CALLBACK_TIME: text} if text else {}

    async def extract_callback_consent(self, dispatcher, tracker: Tracker, domain: DomainDict):
        if tracker.get_slot("requested_slot") != SLOT_CALLBACK_CONSENT:
            return {}
        answers = {"affirm": True, "deny": False}
        intent = latest_intent(tracker)
        return {SLOT_CALLBACK_CONSENT: answers[intent]} if intent in answers else {}

    def validate_callback_name(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        name = " ".join(str(value).split())
        if 0 < len(name) <= MAX_NAME and re.search(r"[^\W\d_]", name):
            return {SLOT_CALLBACK_NAME: name}
        dispatcher.utter_message(text=CONTENT.messages["bad_callback_name"])
        return {SLOT_CALLBACK_NAME: None}

    def validate_callback_phone(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        phone = us_phone(str(value))
        if phone:
            return {SLOT_CALLBACK_PHONE: phone}
        dispatcher.utter_message(text=CONTENT.messages["bad_callback_phone"])
        return {SLOT_CALLBACK_PHONE: None}

    def validate_callback_time(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        when = " ".join(str(value).split())
        if 0 < len(when) <= MAX_TIME:
            return {SLOT_CALLBACK_TIME: when}
        dispatcher.utter_message(text=CONTENT.messages["bad_callback_time"])
        return {SLOT_CALLBACK_TIME: None}


def ask_action(slot: Text, buttons: Tuple[Dict[Text, Text], ...] = ()) -> Type[Action]:
    """The action the form runs to ask for `slot` (action_ask_<slot>), worded in answers.yml."""

    class AskAction(Action):
        def name(self) -> Text:
            return ASK_ACTIONS[slot]

        def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
            dispatcher.utter_message(text=CONTENT.messages[f"ask_{slot}"], buttons=list(buttons))
            return []

    return AskAction


ActionAskCallbackName = ask_action(SLOT_CALLBACK_NAME)
ActionAskCallbackPhone = ask_action(SLOT_CALLBACK_PHONE)
ActionAskCallbackTime = ask_action(SLOT_CALLBACK_TIME)
ActionAskCallbackConsent = ask_action(SLOT_CALLBACK_CONSENT, YES_NO)


def client_of(tracker: Tracker) -> Optional[Text]:
    """The address hash the REST channel set on the visitor's latest message, if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return (event.get("metadata") or {}).get("client")
    return None


def within_callback_limits(tracker: Tracker) -> bool:
    digits = re.sub(r"\D", "", tracker.get_slot(SLOT_CALLBACK_PHONE) or "")
    keys = {
        "sender": tracker.sender_id,
        "client": client_of(tracker),
        # Only a digest of the number is held, in memory.
        "phone": hashlib.sha256(digits.encode()).hexdigest() if digits else None,
    }
    return CALLBACK_LIMITS.admit(keys.items())


class ActionSubmitCallback(Action):
    """Records the outcome as a callback_status event the front desk can search for."""

    def name(self) -> Text:
        return ACTION_SUBMIT_CALLBACK

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if tracker.get_slot(SLOT_CALLBACK_CONSENT) is True:
            if not within_callback_limits(tracker):
                dispatcher.utter_message(text=CONTENT.messages["callback_limit"],
                                         buttons=[phone_button()])
                return [SlotSet(SLOT_CALLBACK_STATUS, CALLBACK_OVER_LIMIT)] + cleared_form()
            dispatcher.utter_message(text=CONTENT.messages["callback_saved"])
            return [SlotSet(SLOT_CALLBACK_STATUS, CALLBACK_SUBMITTED)] + cleared_form()
        dispatcher.utter_message(text=CONTENT.messages["callback_declined"], buttons=[phone_button()])
        return [SlotSet(SLOT_CALLBACK_STATUS, CALLBACK_DECLINED)] + cleared_form()


class ActionCancelCallback(Action):
    def name(self) -> Text:
        return ACTION_CANCEL_CALLBACK

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=CONTENT.messages["callback_cancelled"], buttons=[phone_button()])
        return [SlotSet(SLOT_CALLBACK_STATUS, CALLBACK_CANCELLED)] + cleared_form()
