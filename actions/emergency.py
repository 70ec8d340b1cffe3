"""Emergency guidance for red-flag symptoms: 911 or the emergency room now, 988 first for
thoughts of self-harm, in Spanish for a Spanish message, and nothing that pushes booking. The
reply is marked `{"kind": "emergency"}` so the widget shows it as an emergency."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import CONTENT, TELL_ME_MORE, latest_triage, source_line
from clinic.names import ACTION_EMERGENCY, SLOT_LAST_ANSWER

CALL_911 = {"title": "Call 911", "type": "web_url", "url": "tel:911"}
CALL_988 = {"title": "Call or text 988", "type": "web_url", "url": "tel:988"}
EMERGENCY_BUTTONS = (CALL_911, CALL_988)


class ActionEmergency(Action):
    def name(self) -> Text:
        return ACTION_EMERGENCY

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        answer = CONTENT.answers["emergency"]
        triage = latest_triage(tracker)
        self_harm = "self_harm" in (triage.get("flags") or [])
        key = "emergency_self_harm" if self_harm else "emergency"
        call_911, call_988 = CALL_911, CALL_988
        if triage.get("language") == "es":
            text = CONTENT.messages[f"{key}_es"]
            call_911 = {**CALL_911, "title": CONTENT.messages["emergency_button_911_es"]}
            call_988 = {**CALL_988, "title": CONTENT.messages["emergency_button_988_es"]}
        else:
            text = CONTENT.messages[key] if self_harm else answer.text
        buttons = [call_988, call_911] if self_harm else [call_911, call_988]
        # Short on purpose: the person needs to act, not read. The sources come after, and
        # "tell me more" shows which symptoms need emergency care (never an earlier answer).
        dispatcher.utter_message(text=text, buttons=buttons, json_message={"kind": "emergency"})
        dispatcher.utter_message(text=source_line(answer.sources), buttons=[dict(TELL_ME_MORE)])
        return [SlotSet(SLOT_LAST_ANSWER, "emergency")]
