"""Visitors' verdicts on the curated answers: the widget's "Helpful" / "Not helpful" under an
answer (/rate_answer{"answer": ..., "verdict": ...}) and, after "not helpful", one of two reasons
(/explain_verdict{"answer": ..., "reason": ...}); never free text. The REST channel lets only
these values through (channels/rest.py, PAYLOAD_ENTITIES).

One verdict per answer given, and one reason per "not helpful": an accepted one is recorded as
the `answer_verdict` slot ("ask_cost:not_helpful", then "ask_cost:not_helpful:did_not_answer"),
which the console counts; a repeat, or a verdict on an answer this conversation never got, is
thanked and not recorded.
"""
import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import CONTENT, QUESTION_INTENTS, latest_entities, latest_intent, phone_button
from clinic.names import (
    ACTION_RECORD_VERDICT, HELPFUL, INTENT_EXPLAIN_VERDICT, INTENT_RATE_ANSWER, NOT_HELPFUL,
    SLOT_ANSWER_VERDICT, SLOT_LAST_ANSWER, VERDICT_REASONS,
)


def reason_button(answer: Text, reason: Text) -> Dict[Text, Text]:
    entities = json.dumps({"answer": answer, "reason": reason}, separators=(",", ":"))
    return {"title": CONTENT.messages[f"verdict_reason_{reason}"],
            "payload": f"/{INTENT_EXPLAIN_VERDICT}{entities}"}


def recorded_since_answer(tracker: Tracker, answer: Text) -> Optional[List[Text]]:
    """The verdicts recorded on the latest time `answer` was given ([] if none yet), or None if
    this conversation never got that answer."""
    recorded: Optional[List[Text]] = None
    for event in tracker.events:
        if event.get("event") != "slot":
            continue
        if event.get("name") == SLOT_LAST_ANSWER and event.get("value") == answer:
            recorded = []
        elif (event.get("name") == SLOT_ANSWER_VERDICT and recorded is not None
              and event.get("value")):
            if str(event["value"]).startswith(f"{answer}:"):
                recorded.append(event["value"])
    return recorded


def accepted(tracker: Tracker, intent: Text, answer: Text, value: Text) -> Optional[Text]:
    """The answer_verdict value to record, or None when this one is not to be counted."""
    if answer not in QUESTION_INTENTS or not value:
        return None
    recorded = recorded_since_answer(tracker, answer)
    if recorded is None:
        return None
    if intent == INTENT_RATE_ANSWER:
        return None if recorded else f"{answer}:{value}"
    if recorded == [f"{answer}:{NOT_HELPFUL}"]:
        return f"{answer}:{NOT_HELPFUL}:{value}"
    return None


class ActionRecordVerdict(Action):
    def name(self) -> Text:
        return ACTION_RECORD_VERDICT

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = latest_intent(tracker)
        answer = next(iter(latest_entities(tracker, "answer")), "")
        kind = "verdict" if intent == INTENT_RATE_ANSWER else "reason"
        value = accepted(tracker, intent, answer, next(iter(latest_entities(tracker, kind)), ""))
        if value is None:
            dispatcher.utter_message(text=CONTENT.messages["verdict_not_recorded"])
            return []
        if value.endswith(f":{HELPFUL}"):
            dispatcher.utter_message(text=CONTENT.messages["verdict_thanks"])
        elif value.endswith(f":{NOT_HELPFUL}"):
            buttons = [reason_button(answer, reason) for reason in VERDICT_REASONS]
            dispatcher.utter_message(text=CONTENT.messages["verdict_ask_reason"],
                                     buttons=buttons + [phone_button()])
        else:
            dispatcher.utter_message(text=CONTENT.messages["verdict_reason_thanks"],
                                     buttons=[phone_button()])
        return [SlotSet(SLOT_ANSWER_VERDICT, value)]
