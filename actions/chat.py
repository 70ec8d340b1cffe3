"""Short replies for greetings, thanks, goodbyes, "are you a bot?", a stray yes or no, and a
visitor who only describes their pain (naming the body part they named, "I'm sorry to hear about
the neck pain.", never how long it has hurt: the pain_duration entity is for the front desk).
A question asked in the same message as a greeting, a yes or a description of pain is offered
first among the buttons (not in the callback form, which asks its own question next)."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import (
    CONTENT, intent_buttons, latest_intent, named_body_part, phone_button, say_safety_line,
    second_question, without_booking,
)
from clinic.names import ACTION_CHAT_REPLY, CALLBACK_FORM

# intent -> (message key in answers.yml, whether the phone button goes with it)
REPLIES = {
    "greet": ("greet", False),
    "goodbye": ("goodbye", True),
    "thank": ("thank", True),
    "bot_challenge": ("bot_challenge", True),
    "affirm": ("affirm", False),
    "deny": ("deny", False),
    "stop": ("deny", False),
    "describe_pain": ("describe_pain", False),
}
# What the greeting offers to talk about.
GREETING_TOPICS = ("ask_what_is_cryotherapy", "ask_does_it_hurt", "ask_cost", "book_appointment")
# What the reply to a description of pain offers next.
PAIN_TOPICS = ("ask_benefits", "ask_session_details", "book_appointment")
TOPICS = {"greet": GREETING_TOPICS, "affirm": GREETING_TOPICS, "describe_pain": PAIN_TOPICS}


class ActionChatReply(Action):
    def name(self) -> Text:
        return ACTION_CHAT_REPLY

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = latest_intent(tracker)
        safety_first = say_safety_line(dispatcher, tracker)
        key, with_phone = REPLIES.get(intent, ("out_of_scope", True))
        buttons = [phone_button()] if with_phone else []
        # No topic buttons in the middle of the callback request: it asks its question next.
        # A question asked with it ("my back is killing me, how much is a visit?") comes first.
        if intent in TOPICS and tracker.active_loop_name != CALLBACK_FORM:
            topics = list(dict.fromkeys(second_question(tracker, intent) + list(TOPICS[intent])))
            buttons = intent_buttons(without_booking(topics) if safety_first else topics)
        # With its body_part line (describe_pain, content/answers.yml) when a body part is named.
        dispatcher.utter_message(text=CONTENT.message(key, named_body_part(tracker)),
                                 buttons=buttons)
        return []
