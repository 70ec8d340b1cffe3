"""components/tfidf_intent_classifier.py: train, persist and load through Rasa's model storage.
No resource (nothing trained) is fine; a resource that cannot be loaded stops the server with
an error naming the file. With word_vectors, the dense sentence vectors from the wordllama
wheel (components/word_vectors.py) widen the features, and the model still round-trips."""
import math

import numpy as np
import pytest
import skops.io as sio
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from sklearn.preprocessing import FunctionTransformer

from components import word_vectors
from components.tfidf_intent_classifier import (
    CLAUSES,
    MAX_CLAUSES,
    MODEL_FILE,
    NORMALISED_TEXT,
    TfidfIntentClassifier,
    UnloadableClassifierError,
    classifier_text,
    first_asked_first,
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


def train(storage, context, resource, config=None, examples=EXAMPLES):
    component = TfidfIntentClassifier.create(config or {}, storage, resource, context)
    messages = [Message(data={TEXT: t, INTENT: i}) for i, ts in examples.items() for t in ts]
    component.train(TrainingData(training_examples=messages))
    return component


def load(storage, context, resource, config=None):
    return TfidfIntentClassifier.load(config or {}, storage, resource, context)


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


def test_classifier_reads_the_normalised_text_when_there_is_one(storage, context):
    assert classifier_text(Message(data={TEXT: "cryo?"})) == "cryo?"
    assert classifier_text(Message(data={TEXT: "cryo?", NORMALISED_TEXT: "cryotherapy?"})) == (
        "cryotherapy?"
    )
    component = train(storage, context, Resource("tfidf"))
    # The text says goodbye; the normalised text, which the classifier must read, asks the price.
    message = Message(data={TEXT: "bye", NORMALISED_TEXT: "how much does it cost"})
    component.process([message])
    assert message.get(INTENT)["name"] == "ask_cost"
    # And it learns from the normalised text: here every greeting is normalised to a price
    # question, so a price question comes out as a greeting.
    component = TfidfIntentClassifier.create({}, storage, Resource("normalised"), context)
    messages = [
        Message(data={TEXT: t, INTENT: i, **({NORMALISED_TEXT: "how much does it cost"}
                                             if i == "greet" else {})})
        for i, ts in EXAMPLES.items() for t in ts
    ]
    component.train(TrainingData(training_examples=messages))
    assert classify(component, "how much does it cost").get(INTENT)["name"] == "greet"


def test_sentence_vectors_are_unit_length_averages_of_the_token_vectors():
    vectors = word_vectors.load()
    texts = ["how much does it cost", "hello", ""]
    rows = word_vectors.sentence_vectors(texts)
    assert rows.shape == (3, vectors.dim) and rows.dtype == np.float32
    ids = vectors.tokenizer.encode("how much does it cost", add_special_tokens=False).ids
    mean = vectors.embedding[ids].mean(axis=0)
    assert np.allclose(rows[0], mean / np.linalg.norm(mean), atol=1e-6)
    assert np.isclose(np.linalg.norm(rows[1]), 1.0, atol=1e-6)
    assert not rows[2].any()  # no tokens: a zero vector, not NaN
    # Padding does not change a text's vector: alone or batched with a longer text, the same.
    assert np.allclose(word_vectors.sentence_vectors(["hello"])[0], rows[1], atol=1e-6)


def test_missing_word_vector_files_are_an_error_naming_the_file(tmp_path):
    with pytest.raises(word_vectors.WordVectorsUnavailable) as error:
        word_vectors.WordVectors.from_directory(tmp_path)
    assert str(tmp_path / word_vectors.WEIGHTS) in str(error.value)
    assert "wordllama==0.4.0.post1" in str(error.value)


@pytest.mark.parametrize("intents", [["ask_cost", "greet"], ["ask_cost", "greet", "goodbye"]])
def test_word_vectors_widen_the_features_and_round_trip(storage, context, intents):
    config = {"word_vectors": True, "vector_weight": 2.0}
    plain = TfidfIntentClassifier.create({}, storage, Resource("plain"), context)
    dense = TfidfIntentClassifier.create(config, storage, Resource("dense"), context)
    training = [Message(data={TEXT: t, INTENT: i}) for i in intents for t in EXAMPLES[i]]
    for component in (plain, dense):
        component.train(TrainingData(training_examples=training))
    width = plain._model.steps[-1][1].coef_.shape[1]
    assert dense._model.steps[-1][1].coef_.shape[1] == width + word_vectors.load().dim

    texts = ["how much is it", "hello", "", "price?? hi"]
    trained = dense._probabilities(texts)
    loaded = load(storage, context, Resource("dense"), config)
    assert np.array_equal(loaded._probabilities(texts), trained)
    assert not np.allclose(trained, plain._probabilities(texts))  # the vectors are used
    # The probabilities are those of the logistic regression on the widened features.
    union, classifier = dense._model.steps[0][1], dense._model.steps[-1][1]
    features = hstack([union.transform(texts), 2.0 * word_vectors.sentence_vectors(texts)])
    assert np.allclose(trained, classifier.predict_proba(features), rtol=1e-9, atol=1e-12)
    message = classify(loaded, "how much is it")
    assert message.get(INTENT)["name"] == "ask_cost"


def test_loading_with_a_different_word_vectors_setting_is_an_error(storage, context):
    train(storage, context, Resource("plain"))
    train(storage, context, Resource("dense"), {"word_vectors": True})
    for resource, config in [("plain", {"word_vectors": True}), ("dense", {})]:
        with pytest.raises(UnloadableClassifierError, match="features but would be given"):
            load(storage, context, Resource(resource), config)


def test_each_clause_of_a_message_of_several_is_classified_too(storage, context):
    resource = Resource("tfidf")
    train(storage, context, resource)
    component = load(storage, context, resource)
    message = classify(component, "hi there, how much does it cost? and bye")
    expected = [(part, classify(component, part).get(INTENT)) for part in
                ("hi there", "how much does it cost?", "and bye")]
    assert message.get(CLAUSES) == [
        {"name": intent["name"], "confidence": intent["confidence"], "question": question}
        for (_, intent), question in zip(expected, (False, True, False))]
    assert [c["name"] for c in message.get(CLAUSES)] == ["greet", "ask_cost", "goodbye"]


@pytest.mark.parametrize("text", ["how much does it cost", "hello, bye", "price, ok"])
def test_a_message_of_one_clause_has_no_clauses(storage, context, text):
    """"bye" and "ok" are clauses of one word: too short to stand as a part of their own."""
    resource = Resource("tfidf")
    train(storage, context, resource)
    assert classify(load(storage, context, resource), text).get(CLAUSES) is None


def test_clauses_are_capped_and_a_button_payload_has_none(storage, context):
    resource = Resource("tfidf")
    train(storage, context, resource)
    component = load(storage, context, resource)
    rambling = ", ".join(f"my back hurts {n}" for n in range(MAX_CLAUSES + 4))
    assert len(classify(component, rambling).get(CLAUSES)) == MAX_CLAUSES
    payload = '/inform{"time": "after lunch, before five"}'
    assert classify(component, payload).get(CLAUSES) is None


def ranked(*pairs):
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def asked(*triples):
    return [{"name": n, "confidence": c, "question": q} for n, c, q in triples]


TWO_QUESTIONS = ranked(("ask_does_it_hurt", 0.5), ("ask_cost", 0.3), ("ask_what_is_cryotherapy", 0.1),
                       ("greet", 0.05))
ANSWERABLE = ("ask_does_it_hurt", "ask_cost", "ask_what_is_cryotherapy")


@pytest.mark.parametrize("clause_tops, expected", [
    # asked first, ranked third: the two swap names, the confidences stay in order
    (asked(("ask_what_is_cryotherapy", 0.9, True), ("ask_does_it_hurt", 0.95, True)),
     ranked(("ask_what_is_cryotherapy", 0.5), ("ask_cost", 0.3), ("ask_does_it_hurt", 0.1),
            ("greet", 0.05))),
    # already in the order asked
    (asked(("ask_does_it_hurt", 0.95, True), ("ask_what_is_cryotherapy", 0.9, True)),
     TWO_QUESTIONS),
    # the earlier clause is not a question ("what a week, does it hurt?")
    (asked(("ask_what_is_cryotherapy", 0.9, False), ("ask_does_it_hurt", 0.95, True)),
     TWO_QUESTIONS),
    # the earlier clause is classified too unsurely
    (asked(("ask_what_is_cryotherapy", 0.7, True), ("ask_does_it_hurt", 0.95, True)),
     TWO_QUESTIONS),
    # the top intent is not asked in a clause of its own
    (asked(("ask_what_is_cryotherapy", 0.9, True), ("ask_cost", 0.95, True)),
     TWO_QUESTIONS),
    # a greeting asked first is no question to answer first
    (asked(("greet", 0.9, True), ("ask_does_it_hurt", 0.95, True)),
     TWO_QUESTIONS),
    ([], TWO_QUESTIONS),
])
def test_of_two_questions_the_first_asked_is_answered_first(clause_tops, expected):
    assert first_asked_first(TWO_QUESTIONS, clause_tops, ANSWERABLE, clause_min=0.8) == expected


def test_an_empty_ranking_stays_empty():
    assert first_asked_first([], asked(("ask_cost", 0.9, True)), ANSWERABLE, 0.8) == []


def test_the_classifier_answers_the_first_asked_only_when_configured(storage, context):
    resource = Resource("tfidf")
    hurt = ["does it hurt", "is it painful", "will it sting", "does the cold hurt"]
    train(storage, context, resource, examples={**EXAMPLES, "ask_does_it_hurt": hurt})
    configured = {"first_asked_clause": 0.5}
    text = "does it hurt at all? how much does it cost, is it expensive, what is the price?"
    assert classify(load(storage, context, resource), text).get(INTENT)["name"] == "ask_cost"
    first = classify(load(storage, context, resource, configured), text)
    assert [(c["name"], c["question"]) for c in first.get(CLAUSES)][:2] == [
        ("ask_does_it_hurt", True), ("ask_cost", True)]
    assert [r["name"] for r in first.get(INTENT_RANKING_KEY)][:2] == [
        "ask_does_it_hurt", "ask_cost"]
    assert first.get(INTENT) == first.get(INTENT_RANKING_KEY)[0]
    # a greeting asked first is no question to answer first
    greeting = "hi there? how much does it cost, is it expensive?"
    assert classify(load(storage, context, resource, configured), greeting).get(
        INTENT)["name"] == "ask_cost"
