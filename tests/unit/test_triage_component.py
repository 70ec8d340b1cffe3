"""components/triage.py applied to a parse: the classifier's `emergency` never stands alone."""
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from components.triage import TriageComponent

EVERYDAY = "I have had back pain for years and nothing works"


def classified(text, ranking):
    message = Message(data={TEXT: text})
    message.set(INTENT, ranking[0])
    message.set(INTENT_RANKING_KEY, ranking)
    return message


def test_an_overruled_emergency_leaves_the_ranking_so_the_next_intent_is_not_ambiguous():
    ranking = [{"name": "emergency", "confidence": 0.39}, {"name": "describe_pain", "confidence": 0.36},
               {"name": "ask_safety", "confidence": 0.06}]
    [message] = TriageComponent().process([classified(EVERYDAY, ranking)])
    assert message.get("triage")["level"] == "none"
    assert message.get(INTENT) == {"name": "describe_pain", "confidence": 0.36}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["describe_pain", "ask_safety"]
    # Rasa's FallbackClassifier (as config.yml sets it: 0.3, ambiguity 0.0) then keeps it.
    fallback = FallbackClassifier({"threshold": 0.3, "ambiguity_threshold": 0.0})
    [judged] = fallback.process([message])
    assert judged.get(INTENT)["name"] == "describe_pain"


def test_an_emergency_triage_agrees_with_stands():
    ranking = [{"name": "ask_cost", "confidence": 0.5}, {"name": "emergency", "confidence": 0.4}]
    [message] = TriageComponent().process(
        [classified("I suddenly can't control my bladder and my back is killing me", ranking)])
    assert message.get("triage")["level"] == "emergency"
    assert message.get(INTENT)["name"] == "emergency"
