"""Hands the visitor to the clinic's phone line at once, and offers a callback request."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import CONTENT, YES_NO, latest_intent, phone_button


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        key = "book_appointment" if latest_intent(tracker) == "book_appointment" else "handoff"
        dispatcher.utter_message(text=CONTENT.messages[key], buttons=[phone_button()])
        dispatcher.utter_message(text=CONTENT.messages["offer_callback"], buttons=list(YES_NO))
        return []
