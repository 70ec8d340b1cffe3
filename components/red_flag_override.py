"""Makes every message that mentions a red-flag symptom an emergency.

The intent classifier may file "how much is it? also I can't control my bladder" under ask_cost;
the entity patterns in nlp/en_clinic_pipeline/patterns/red_flags.yml still find the symptom, and
this component, placed last in the pipeline, lets it win over every other intent (GUIDE.md).
"""
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class RedFlagOverride(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"entities": ["red_flag", "self_harm"], "intent": "emergency"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self._entities = set(config["entities"])
        self._intent = config["intent"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RedFlagOverride":
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if any(e.get("entity") in self._entities for e in message.get(ENTITIES, [])):
                top = {"name": self._intent, "confidence": 1.0}
                others = [
                    i for i in message.get(INTENT_RANKING_KEY, []) if i.get("name") != self._intent
                ]
                message.set(INTENT, top, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [top] + others, add_to_output=True)
        return messages
