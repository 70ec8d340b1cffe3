"""components/tfidf_intent_classifier.py: train, persist and load through Rasa's model storage.
No resource (nothing trained) is fine; a resource that cannot be loaded stops the server with
an error naming the file."""
import math

import pytest
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.preprocessing import FunctionTransformer

from components.tfidf_intent_classifier import (
    MODEL_FILE,
    TfidfIntentClassifier,
    UnloadableClassifierError,
)

EXAMPLES = {
    "ask_cost": ["how much does it cost", "what is the price", "is it expensive", "price list"],
    "greet": ["hello", "hi there", "good morning", "hey"],
    "goodbye": ["bye", "see you later", "goodbye now", "talk soon"],
}


@pytest.fixture
def storage(tmp_path):
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


@pytest.fixture
def context():
    return ExecutionContext(GraphSchema({}), "test")


def train(storage, context, resource):
    component = TfidfIntentClassifier.create({}, storage, resource, context)
    messages = [Message(data={TEXT: t, INTENT: i}) for i, ts in EXAMPLES.items() for t in ts]
    component.train(TrainingData(training_examples=messages))
    return component


def load(storage, context, resource):
    return TfidfIntentClassifier.load({}, storage, resource, context)


def model_file(storage, resource):
    with storage.write_to(resource) as directory:
        return directory / MODEL_FILE


def classify(component, text):
    message = Message(data={TEXT: text})
    component.process([message])
    return message


def test_trained_classifier_loads_and_classifies(storage, context):
    resource = Resource("tfidf")
    train(storage, context, resource)
    message = classify(load(storage, context, resource), "what's the price")
    assert message.get(INTENT)["name"] == "ask_cost"
    assert {r["name"] for r in message.get(INTENT_RANKING_KEY)} == set(EXAMPLES)


@pytest.mark.parametrize("intents", [["ask_cost", "greet"], ["ask_cost", "greet", "goodbye"]])
def test_processing_matches_the_pipelines_own_probabilities(storage, context, intents):
    component = TfidfIntentClassifier.create({}, storage, Resource("tfidf"), context)
    messages = [Message(data={TEXT: t, INTENT: i}) for i in intents for t in EXAMPLES[i]]
    component.train(TrainingData(training_examples=messages))
    texts = ["how much is it", "hello", "", "price?? hi"]
    messages = [Message(data={TEXT: t}) for t in texts]
    component.process(messages)
    expected = component._model.predict_proba(texts)
    for message, row in zip(messages, expected):
        ranking = {r["name"]: r["confidence"] for r in message.get(INTENT_RANKING_KEY)}
        for name, probability in zip(component._model.classes_, row):
            assert math.isclose(ranking[name], probability, rel_tol=1e-9)


def test_no_resource_means_no_classifier_and_no_error(storage, context):
    component = load(storage, context, Resource("never_trained"))
    assert component._model is None
    assert classify(component, "what's the price").get(INTENT) is None


def test_no_examples_persists_nothing_and_loads_as_untrained(storage, context):
    resource = Resource("tfidf")
    TfidfIntentClassifier.create({}, storage, resource, context).train(TrainingData())
    assert load(storage, context, resource)._model is None


def broken_garbage(path):
    path.write_bytes(b"this is not a skops file")


def broken_missing(path):
    path.unlink()


def broken_foreign_types(path):
    sio.dump(FunctionTransformer(func=math.sqrt), path)  # math.sqrt: not scikit-learn's


def broken_not_a_pipeline(path):
    sio.dump({"classes": [1, 2]}, path)


@pytest.mark.parametrize("breakage, problem", [
    (broken_garbage, "not a readable skops file"),
    (broken_missing, f"{MODEL_FILE} is missing"),
    (broken_foreign_types, "types other than scikit-learn, NumPy and SciPy: ['math.sqrt']"),
    (broken_not_a_pipeline, "expected a scikit-learn Pipeline, found dict"),
])
def test_broken_model_file_is_an_error_naming_the_file(storage, context, breakage, problem):
    resource = Resource("tfidf")
    train(storage, context, resource)
    path = model_file(storage, resource)
    breakage(path)
    with pytest.raises(UnloadableClassifierError) as error:
        load(storage, context, resource)
    message = str(error.value)
    assert str(path) in message and "resource 'tfidf'" in message and problem in message
    assert "make train" in message
