"""Hands the visitor to the clinic's phone line at once, and offers a callback request.

In the middle of the callback request (data/rules/callback_form.yml) there is no second offer:
asking for a person ends the request (the phone number first), and asking to book gives the
phone number, after which the request goes on. Right after the offer, a short booking request
with a time or a number in it ("call me tomorrow then") takes it up."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.callback_form import cleared_form, offer_taken_up
from actions.replies import CONTENT, YES_NO, latest_intent, phone_button, say_safety_line
from clinic.names import ACTION_HANDOFF, CALLBACK_CANCELLED, CALLBACK_FORM, SLOT_CALLBACK_STATUS


class ActionHandoff(Action):
    def name(self) -> Text:
        return ACTION_HANDOFF

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        booking = latest_intent(tracker) == "book_appointment"
        key = "book_appointment" if booking else "handoff"
        # Right after the offer, "ok book me for monday then" says yes and when; someone who
        # asks for a person gets the number whatever else they say.
        taken_up = offer_taken_up(tracker) if booking and \
            tracker.active_loop_name != CALLBACK_FORM else []
        if taken_up:
            return taken_up
        safety_first = say_safety_line(dispatcher, tracker)
        dispatcher.utter_message(text=CONTENT.messages[key], buttons=[phone_button()])
        if safety_first:
            return []  # no callback pitch to someone who may need the emergency room
        if tracker.active_loop_name != CALLBACK_FORM:
            dispatcher.utter_message(text=CONTENT.messages["offer_callback"], buttons=list(YES_NO))
            return []
        if booking:
            return []  # the callback request asks its question again
        dispatcher.utter_message(text=CONTENT.messages["callback_stopped"])
        return [SlotSet(SLOT_CALLBACK_STATUS, CALLBACK_CANCELLED)] + cleared_form()
