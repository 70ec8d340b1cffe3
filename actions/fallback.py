"""When the bot is unsure or the question is not one it can answer.

Two close guesses: offer both as buttons plus "something else" (as Sara, the Rasa demo bot,
does). Otherwise: say what the bot can help with, and give the phone number. A message in
another language gets the phone number in Spanish or in plain English. Every reply here
carries 911 and 988. A time or a phone number given in reply to the callback offer starts
the callback request instead.
"""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback_form import offer_taken_up
from actions.thresholds import THRESHOLDS
from actions.replies import (
    CONTENT, intent_buttons, intent_title, latest_intent, latest_triage, phone_button,
    say_safety_line,
)
from clinic.names import ACTION_FALLBACK

# What "nothing fits" offers instead: never booking (the message may be about an emergency we
# did not recognise; the reply carries 911 and 988).
HELP_TOPICS = ("ask_what_is_cryotherapy", "ask_safety", "ask_cost")


def close_guesses(ranking: List[Dict[Text, Any]],
                  thresholds: Dict[Text, float] = THRESHOLDS) -> List[Text]:
    """The top two intents if both can be offered as buttons and neither clearly wins."""
    guesses = [r for r in ranking if r.get("name") != "nlu_fallback"][:2]
    if len(guesses) < 2 or not all(intent_title(g["name"]) for g in guesses):
        return []
    first, second = (g.get("confidence") or 0.0 for g in guesses)
    # Close: either is a fair reading of the message (thresholds in config.yml).
    if second >= thresholds["close_second"] and first - second <= thresholds["close_gap"]:
        return [g["name"] for g in guesses]
    return []


class ActionFallback(Action):
    def name(self) -> Text:
        return ACTION_FALLBACK

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        language = latest_triage(tracker).get("language") or "en"
        if language != "en":
            key = "other_language_es" if language == "es" else "other_language"
            dispatcher.utter_message(text=CONTENT.messages[key], buttons=[phone_button()])
            return []
        say_safety_line(dispatcher, tracker)
        # "after lunch pls" in reply to the callback offer is a yes with the time in it.
        taken_up = offer_taken_up(tracker)
        if taken_up:
            return taken_up
        guesses = []
        if latest_intent(tracker) == "nlu_fallback":
            guesses = close_guesses(tracker.latest_message.get("intent_ranking") or [])
        if guesses:
            buttons = intent_buttons(guesses)
            buttons.append({"title": CONTENT.messages["something_else"], "payload": "/out_of_scope"})
            dispatcher.utter_message(text=CONTENT.messages["clarify"], buttons=buttons)
            return []
        dispatcher.utter_message(
            text=CONTENT.messages["out_of_scope"],
            buttons=[phone_button()] + intent_buttons(HELP_TOPICS),
        )
        return []
