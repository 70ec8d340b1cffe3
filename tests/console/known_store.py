"""A small tracker store whose content is known exactly, for the home page's figures, the
verdicts and the automatic labels (tests/console/test_console_home.py).

Written by Rasa's own SQLTrackerStore from Rasa's own event classes, so every row is what the
Rasa server writes (type_name, intent_name, action_name, the data JSON), only with chosen times:
conversations spread over days and hours of the clinic's time zone; visitors' verdicts as the
bot handles them (actions/verdicts.py: the `rate_answer` / `explain_verdict` press, then the
`answer_verdict` slot it records, or nothing for a repeat or an answer never given); a Spanish
message (parse_data.triage.language "es"). EXPECTED below is what the console must show.
"""
import asyncio
from datetime import date, datetime, time as clock, timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from zoneinfo import ZoneInfo

ZONE = "Asia/Kolkata"  # UTC+05:30: a day or an hour of UTC is not one here

# Each conversation: (day offset from today, local hour, minute, turns). A turn is
# ("user", text, intent, extra) with extra {"entities": {...}, "triage": {...}}; ("bot", text);
# ("action", name); ("slot", name, value).
NONE_EN = {"level": "none", "flags": [], "language": "en"}


def rated(answer, verdict, recorded=True):
    """A press of "Helpful" / "Not helpful" under `answer`, and what the bot does with it."""
    turns = [("user", f'/rate_answer{{"answer":"{answer}","verdict":"{verdict}"}}', "rate_answer",
              {"entities": {"answer": answer, "verdict": verdict}}),
             ("action", "action_record_verdict")]
    if recorded:
        turns.append(("slot", "answer_verdict", f"{answer}:{verdict}"))
    return turns + [("bot", "Thank you." if recorded else "Thanks, we have your answer.")]


def explained(answer, reason):
    """The reason chosen after "not helpful", recorded by the bot."""
    return [("user", f'/explain_verdict{{"answer":"{answer}","reason":"{reason}"}}',
             "explain_verdict", {"entities": {"answer": answer, "reason": reason}}),
            ("action", "action_record_verdict"),
            ("slot", "answer_verdict", f"{answer}:not_helpful:{reason}"),
            ("bot", "Thank you, that helps us improve.")]

CONVERSATIONS: Dict[str, Tuple[int, int, int, List[tuple]]] = {
    "faq_today": (0, 9, 10, [
        ("user", "what does a session cost", "ask_cost", {"triage": NONE_EN}),
        ("bot", "A session costs $45."), ("slot", "last_answer", "ask_cost"),
        *rated("ask_cost", "helpful"),
    ]),
    "fallback_today": (0, 9, 40, [
        ("user", "can you recommend a pizza place", "out_of_scope", {"triage": NONE_EN}),
        ("action", "action_fallback"),
        ("bot", "Sorry, I can't help with that."),
    ]),
    "emergency_today": (0, 10, 5, [
        ("user", "since this morning I have no control over my bladder", "emergency",
         {"triage": {"level": "emergency", "flags": ["bladder_bowel"], "language": "en"}}),
        ("action", "action_emergency"),
        ("bot", "Call 911 now."),
    ]),
    "emergency_reviewed_today": (0, 10, 20, [
        ("user", "I suddenly cannot feel my legs", "emergency",
         {"triage": {"level": "emergency", "flags": ["numbness"], "language": "en"}}),
        ("action", "action_emergency"),
        ("bot", "Call 911 now."),
    ]),
    "possible_today": (0, 11, 0, [
        ("user", "does cryotherapy help if I have a fever?", "ask_safety",
         {"triage": {"level": "possible", "flags": ["fever"], "language": "en"}}),
        ("bot", "If you have a fever, please call us first."),
    ]),
    "callback_today": (0, 11, 30, [
        ("user", "I want to book an appointment", "book_appointment", {"triage": NONE_EN}),
        ("slot", "callback_name", "Ann Lee"), ("slot", "callback_phone", "314-555-0100"),
        ("slot", "callback_time", "mornings"), ("slot", "callback_status", "submitted"),
    ]),
    "callback_yesterday": (-1, 16, 45, [
        ("user", "can I make an appointment", "book_appointment", {"triage": NONE_EN}),
        ("slot", "callback_name", "Ann Lee"), ("slot", "callback_phone", "(314) 555-0100"),
        ("slot", "callback_time", "any time"), ("slot", "callback_status", "submitted"),
    ]),
    "callback_called": (-3, 8, 15, [
        ("user", "please call me to book", "book_appointment", {"triage": NONE_EN}),
        ("slot", "callback_name", "Bo Chen"), ("slot", "callback_phone", "636-555-0199"),
        ("slot", "callback_time", "evenings"), ("slot", "callback_status", "submitted"),
    ]),
    "handoff_late": (-1, 23, 50, [
        ("user", "let me speak with a staff member", "request_human", {"triage": NONE_EN}),
        ("action", "action_handoff"),
        ("bot", "Please call us at (314) 731-4201."),
    ]),
    "spanish": (-2, 0, 10, [
        ("user", "¿Cuánto cuesta una sesión de crioterapia?", "ask_cost",
         {"triage": {"level": "none", "flags": [], "language": "es"}}),
        ("bot", "Una sesión cuesta $45."), ("slot", "last_answer", "ask_cost"),
        *rated("ask_cost", "not_helpful"), *explained("ask_cost", "did_not_answer"),
    ]),
    "rated_hours": (-5, 14, 30, [
        ("user", "when are you open", "ask_hours", {"triage": NONE_EN}),
        ("bot", "Monday to Friday, 8 to 6."), ("slot", "last_answer", "ask_hours"),
        *rated("ask_hours", "not_helpful"),
        *rated("ask_hours", "helpful", recorded=False),  # a second verdict on it: not counted
        *rated("ask_insurance", "helpful", recorded=False),  # an answer it never got
    ]),
    "greet_only": (-7, 7, 5, [
        ("user", "hi", "greet", {"triage": NONE_EN}),
        ("bot", "Hello! How can I help?"),
    ]),
    "old_emergency": (-40, 12, 0, [
        ("user", "I have no control over my bowels", "emergency",
         {"triage": {"level": "emergency", "flags": ["bladder_bowel"], "language": "en"}}),
        ("action", "action_emergency"),
        ("bot", "Call 911 now."),
    ]),
}
# What the tests do to the store through the console before reading the home page.
REVIEWED = "emergency_reviewed_today"
CALLED = "callback_called"

# The default period (the last 30 days) holds every conversation but old_emergency.
IN_PERIOD = [name for name, (offset, *_rest) in CONVERSATIONS.items() if offset > -30]
EXPECTED_TOTALS = {"conversations": 12, "answered_alone": 7, "unanswered": 1, "handoff": 1,
                   "callback": 3, "emergency": 2, "possible": 1}
EXPECTED_DAYS = {0: 6, -1: 2, -2: 1, -3: 1, -5: 1, -7: 1}  # day offset -> conversations
EXPECTED_HOURS = {9: 2, 10: 2, 11: 2, 16: 1, 23: 1, 0: 1, 8: 1, 14: 1, 7: 1}
EXPECTED_QUESTIONS = [("book_appointment", 3), ("ask_cost", 2), ("emergency", 2),
                      ("ask_hours", 1), ("ask_safety", 1), ("out_of_scope", 1),
                      ("request_human", 1)]
EXPECTED_VERDICTS = {"helpful": 1, "not_helpful": 2, "verdicts": 3, "rate": 0.3333,
                     "reasons": {"did_not_answer": 1},
                     "by_answer": [
                         {"answer": "ask_cost", "helpful": 1, "not_helpful": 1, "verdicts": 2,
                          "rate": 0.5, "reasons": {"did_not_answer": 1}},
                         {"answer": "ask_hours", "helpful": 0, "not_helpful": 1, "verdicts": 1,
                          "rate": 0.0, "reasons": {}}]}
EXPECTED_TODAY = {
    "callbacks": {"open_requests": 2, "open_people": 1, "requested_today": 1},
    "emergency": {"today": 2, "today_not_reviewed": 1, "not_reviewed": 2},
    "possible": {"today": 1, "today_not_reviewed": 1, "not_reviewed": 1},
}
# Automatic labels of each conversation (the others have none).
EXPECTED_LABELS = {
    "fallback_today": ["fallback"], "emergency_today": ["emergency"],
    "emergency_reviewed_today": ["emergency"], "callback_today": ["callback"],
    "callback_yesterday": ["callback"], "callback_called": ["callback"],
    "handoff_late": ["handoff"], "spanish": ["not helpful", "non-English"],
    "rated_hours": ["not helpful"], "old_emergency": ["emergency"],
}


def local_start(today: date, offset: int, hour: int, minute: int) -> float:
    return datetime.combine(today + timedelta(days=offset), clock(hour, minute),
                            tzinfo=ZoneInfo(ZONE)).timestamp()


def _events(turns: List[tuple], start: float) -> List[Any]:
    from rasa.shared.core.events import (
        ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered,
    )
    at = start
    made = [ActionExecuted("action_session_start", timestamp=at),
            SessionStarted(timestamp=at), ActionExecuted("action_listen", timestamp=at)]
    for turn in turns:
        at += 7.0  # seconds between events: the conversation stays in its quarter hour
        kind = turn[0]
        if kind == "user":
            _, text, intent, extra = turn
            entities = [{"entity": name, "value": value, "start": 0, "end": 0,
                         "extractor": "RegexMessageHandler"}
                        for name, value in (extra.get("entities") or {}).items()]
            parse_data: Dict[str, Any] = {"intent": {"name": intent, "confidence": 0.93},
                                          "entities": entities, "text": text}
            if extra.get("triage"):
                parse_data["triage"] = extra["triage"]
            made.append(UserUttered(text, intent=parse_data["intent"], entities=entities,
                                    parse_data=parse_data, timestamp=at,
                                    input_channel="rest"))
        elif kind == "bot":
            made.append(BotUttered(turn[1], data={}, timestamp=at))
        elif kind == "action":
            made.append(ActionExecuted(turn[1], timestamp=at))
        elif kind == "slot":
            made.append(SlotSet(turn[1], turn[2], timestamp=at))
    return made


def build(path: Path, today: date, senders: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Writes CONVERSATIONS into a new SQLite tracker store at `path` with Rasa's
    SQLTrackerStore; returns name -> sender id."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    senders = senders or {name: f"known-{name}" for name in CONVERSATIONS}
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    try:
        for name, (offset, hour, minute, turns) in CONVERSATIONS.items():
            tracker = DialogueStateTracker.from_events(
                senders[name], _events(turns, local_start(today, offset, hour, minute)))
            asyncio.run(store.save(tracker))
    finally:
        store.engine.dispose()
    return senders
