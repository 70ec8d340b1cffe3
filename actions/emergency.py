"""Emergency guidance for red-flag symptoms: 911 or the emergency room now, 988 for thoughts
of self-harm, and nothing that pushes booking."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import CONTENT, TELL_ME_MORE, latest_entities, source_line

CALL_911 = {"title": "Call 911", "type": "web_url", "url": "tel:911"}
CALL_988 = {"title": "Call or text 988", "type": "web_url", "url": "tel:988"}
EMERGENCY_BUTTONS = (CALL_911, CALL_988)


class ActionEmergency(Action):
    def name(self) -> Text:
        return "action_emergency"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        answer = CONTENT.answers["emergency"]
        buttons = [CALL_911, CALL_988]
        if latest_entities(tracker, "self_harm"):
            buttons.reverse()
        # Short on purpose: the person needs to act, not read. The sources come after, and
        # "tell me more" shows which symptoms need emergency care (never an earlier answer).
        dispatcher.utter_message(text=answer.text, buttons=buttons)
        dispatcher.utter_message(text=source_line(answer.sources), buttons=[dict(TELL_ME_MORE)])
        return [SlotSet("last_answer", "emergency")]
