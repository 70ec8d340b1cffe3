"""Names the action server (actions/), the Rasa server's REST channel (channels/rest.py) and the
front-desk console (console/) all use, written once: the custom actions, the slots, the callback
form and its outcomes, a visitor's verdict on an answer, the console's badges, and what a body
part is called.

domain.yml declares each action, slot, form and intent named here, and every custom action and
slot it declares is here: tests/unit/test_clinic_package.py checks both ways, so a name changed
in the domain and not here fails a test instead of the console silently counting nothing.
"""
from typing import Optional

# Custom actions (domain.yml `actions:`), each the name() of one class in actions/.
ACTION_ANSWER_FAQ = "action_answer_faq"
ACTION_TELL_ME_MORE = "action_tell_me_more"
ACTION_CHAT_REPLY = "action_chat_reply"
ACTION_HANDOFF = "action_handoff"
ACTION_EMERGENCY = "action_emergency"
ACTION_FALLBACK = "action_fallback"
ACTION_RECORD_VERDICT = "action_record_verdict"
ACTION_VALIDATE_CALLBACK_FORM = "validate_callback_form"
ACTION_SUBMIT_CALLBACK = "action_submit_callback"
ACTION_CANCEL_CALLBACK = "action_cancel_callback"

# The two requests a visitor can make besides a question, each offered as a button as a
# question is: a visit (the callback form) and a person (the phone number).
HANDOFF_INTENTS = ("book_appointment", "ask_human")

# The callback request (domain.yml `forms:`), the slots it fills in the order it asks for them,
# and the action that asks for each (Rasa's action_ask_<slot>).
CALLBACK_FORM = "callback_form"
SLOT_CALLBACK_NAME = "callback_name"
SLOT_CALLBACK_PHONE = "callback_phone"
SLOT_CALLBACK_TIME = "callback_time"
SLOT_CALLBACK_CONSENT = "callback_consent"
CALLBACK_FORM_SLOTS = (SLOT_CALLBACK_NAME, SLOT_CALLBACK_PHONE, SLOT_CALLBACK_TIME,
                       SLOT_CALLBACK_CONSENT)
ASK_ACTIONS = {slot: f"action_ask_{slot}" for slot in CALLBACK_FORM_SLOTS}
# What became of a callback request (its values in the domain's order); a submitted one goes to
# the console's callback queue.
SLOT_CALLBACK_STATUS = "callback_status"
CALLBACK_SUBMITTED = "submitted"
CALLBACK_DECLINED = "declined"
CALLBACK_CANCELLED = "cancelled"
CALLBACK_OVER_LIMIT = "over_limit"

# The intent of the last answer given, for "tell me more" and the verdicts on that answer.
SLOT_LAST_ANSWER = "last_answer"

# Where it hurts and for how long, from a statement of pain (the entities body_part and
# pain_duration of a describe_pain message, domain.yml): the console's callback queue shows them.
SLOT_PAIN_BODY_PART = "pain_body_part"
SLOT_PAIN_DURATION = "pain_duration"

# What the bot and the console call a body part the visitor named (the body_part entity, as
# nlp/en_clinic_pipeline/patterns/body_parts.yml finds it): its key words, most specific
# first, so "my lower back pain" is "lower back" and "my back" is "back".
BODY_PART_NAMES = (
    ("lower", "lower back"),
    ("low ", "lower back"),
    ("lumbar", "lower back"),
    ("upper", "upper back"),
    ("mid", "middle back"),
    ("neck", "neck"),
    ("nek", "neck"),
    ("shoulder", "shoulder"),
    ("tailbone", "tailbone"),
    ("spine", "back"),
    ("back", "back"),
    ("bak", "back"),
)


def body_part_name(value: str) -> Optional[str]:
    """The name of the body part in a body_part entity's text, None if it names none we know."""
    value = value.lower()
    return next((name for key, name in BODY_PART_NAMES if key in value), None)

# A visitor's verdict on an answer: the widget's buttons send /rate_answer{"answer": ...,
# "verdict": ...} and, after "not helpful", /explain_verdict{"answer": ..., "reason": ...}; the
# REST channel lets only these values through; the action records an accepted one as the
# answer_verdict slot, "<answer>:<verdict>" or "<answer>:not_helpful:<reason>", and the console
# counts those.
INTENT_RATE_ANSWER = "rate_answer"
INTENT_EXPLAIN_VERDICT = "explain_verdict"
HELPFUL = "helpful"
NOT_HELPFUL = "not_helpful"
VERDICTS = (HELPFUL, NOT_HELPFUL)
VERDICT_REASONS = ("not_what_i_asked", "did_not_answer")
SLOT_ANSWER_VERDICT = "answer_verdict"

# The console's badges on a conversation, each a column of its summary table (console/db.py):
# three mean the bot ran an action (BADGE_ACTIONS), "callback" a callback_status "submitted",
# "possible" a visitor message triaged `possible` (the safety line shown).
BADGES = ("callback", "handoff", "unanswered", "emergency", "possible")
BADGE_ACTIONS = {ACTION_EMERGENCY: "emergency", ACTION_HANDOFF: "handoff",
                 ACTION_FALLBACK: "unanswered"}

# Events that only restate a long conversation for the bot when the tracker store starts a new
# session (stores/session_rollover.py) carry {ROLLOVER: true} in their metadata; the console
# skips them, so the conversation reads as one and nothing is counted twice.
ROLLOVER = "rollover"


def is_rollover(data: dict) -> bool:
    """Whether a stored event (as its JSON dict) is one of those."""
    return bool((data.get("metadata") or {}).get(ROLLOVER))
