"""Safety triage inside the NLU pipeline (triage/ decides; this component applies it).

For every message it puts `triage` ({"level", "flags", "language"}) at the top level of the
parse result (`POST /model/parse`), and:
- level `emergency`: the intent becomes `emergency`, whatever else the message asks;
- otherwise the classifier's `emergency` never stands on its own: the best other intent takes
  its place and the emergency leaves the ranking (the triage layer must agree before a message
  is an emergency);
- a message not in English is never read as affirm, deny or stop (nor anything else the
  English classifier guessed): it becomes `out_of_scope`, which answers in the visitor's
  language where we have one, with 911, 988 and the phone number.
Placed before the FallbackClassifier, which then judges the intent this leaves.
"""
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

import triage
from triage.engine import Triage

EMERGENCY = "emergency"
OTHER_LANGUAGE = "out_of_scope"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class TriageComponent(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "TriageComponent":
        triage.shared_engine()  # load the rules, medspaCy and the scorer now, not on the first message
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            result = triage.assess(text) if text.strip() and not text.startswith("/") \
                else Triage()
            message.set("triage", result.as_dict(), add_to_output=True)
            if result.level == EMERGENCY:
                set_intent(message, EMERGENCY)
            elif result.language != "en":
                set_intent(message, OTHER_LANGUAGE)
            elif (message.get(INTENT) or {}).get("name") == EMERGENCY:
                overrule_emergency(message)
        return messages


def overrule_emergency(message: Message) -> None:
    """The classifier said emergency, triage did not: the best other intent takes its place, and
    the emergency leaves the ranking. Left in, second but above the new top, it would read to the
    FallbackClassifier as an ambiguity, and every such message would fall back ("I have had
    back pain for years and nothing works")."""
    set_intent(message, best_other(message))
    message.set(INTENT_RANKING_KEY, [r for r in message.get(INTENT_RANKING_KEY)
                                     if r.get("name") != EMERGENCY], add_to_output=True)


def best_other(message: Message) -> Dict[Text, Any]:
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != EMERGENCY]
    return ranking[0] if ranking else {"name": OTHER_LANGUAGE, "confidence": 0.0}


def set_intent(message: Message, intent: Any) -> None:
    """`intent` is a name (then certain) or a ranking entry; the ranking is re-ordered to match."""
    top = {"name": intent, "confidence": 1.0} if isinstance(intent, str) else dict(intent)
    others = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != top["name"]]
    message.set(INTENT, top, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [top] + others, add_to_output=True)
