"""Answers the FAQ intents from content/answers.yml: a short answer with every source that backs
it (the sources marked `short`), the longer text with all its sources on "tell me more" (which
also follows the emergency guidance)."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.emergency import EMERGENCY_BUTTONS
from actions.replies import (
    CLINIC,
    CONTENT,
    QUESTION_INTENTS,
    TELL_ME_MORE,
    intent_buttons,
    latest_intent,
    named_body_part,
    phone_button,
    say_safety_line,
    second_question,
    source_line,
    without_booking,
)
from clinic.names import ACTION_ANSWER_FAQ, ACTION_TELL_ME_MORE, SLOT_LAST_ANSWER

# Follow-up questions offered as buttons after an answer: its second question first, if any.
MAX_SUGGESTIONS = 3


def clinic_details() -> List[Text]:
    """Address and hours only when clinic.yml has them: the bot never makes them up."""
    lines = []
    if CLINIC.address:
        lines.append(f"Address: {CLINIC.address}")
    if CLINIC.hours:
        lines.append(f"Hours: {CLINIC.hours}")
    return lines


class ActionAnswerFaq(Action):
    def name(self) -> Text:
        return ACTION_ANSWER_FAQ

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = latest_intent(tracker)
        safety_first = say_safety_line(dispatcher, tracker)
        if intent not in QUESTION_INTENTS:
            dispatcher.utter_message(text=CONTENT.messages["out_of_scope"], buttons=[phone_button()])
            return []
        answer = CONTENT.answers[intent]
        parts = [answer.text]
        if intent == "ask_location_hours":
            parts = clinic_details() + parts
        named = named_body_part(tracker)
        if named and answer.body_part:
            parts.append(answer.body_part.replace("{body_part}", named))
        parts.append(source_line(answer.short_sources))  # every source of the short text
        buttons = [dict(TELL_ME_MORE)] if answer.more else []
        suggestions = second_question(tracker, intent) + list(answer.suggestions)
        suggestions = without_booking(suggestions) if safety_first else suggestions
        buttons += intent_buttons(list(dict.fromkeys(suggestions))[:MAX_SUGGESTIONS])
        # Marked as a curated answer, so the widget offers "Helpful" / "Not helpful" under it.
        dispatcher.utter_message(text="\n\n".join(parts), buttons=buttons,
                                 json_message={"kind": "answer", "answer": intent})
        return [SlotSet(SLOT_LAST_ANSWER, intent)]


class ActionTellMeMore(Action):
    def name(self) -> Text:
        return ACTION_TELL_ME_MORE

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        answer = CONTENT.answers.get(tracker.get_slot(SLOT_LAST_ANSWER) or "")
        if answer is None or answer.more is None:
            dispatcher.utter_message(
                text=CONTENT.messages["tell_me_more_none"], buttons=[phone_button()]
            )
            return []
        text = f"{answer.more}\n\n{source_line(answer.sources)}"
        if tracker.get_slot(SLOT_LAST_ANSWER) == "emergency":
            buttons = list(EMERGENCY_BUTTONS)  # still nothing but 911 and 988
        else:
            buttons = intent_buttons(answer.suggestions)
        dispatcher.utter_message(text=text, buttons=buttons)
        return []
