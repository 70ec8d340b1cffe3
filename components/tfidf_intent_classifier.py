"""Intent classifier: TF-IDF over word and character n-grams, then logistic regression.

Chosen by measurement (README, "NLU choices"): on our training data, sublinear TF-IDF with weak
regularisation (C=10) beat Rasa's LogisticRegressionClassifier over CountVectors features by
about 4.5 points in 3-fold cross-validation (0.821 vs 0.777) and matched DIET, which trains
five times slower. It reads the message text itself (classifier_text), so it needs no
featurizer before it. With `word_vectors: true` it appends to the sparse TF-IDF features each
message's dense sentence vector from the word embedding table in the wordllama wheel
(components/word_vectors.py), scaled by `vector_weight`. The vectors are not part of the saved
model: they are read from the installed wheel when the model is loaded.
Each clause of a message of several is classified as well (the parse result's `clauses`).
"""
import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.content import load_or_exit
from clinic.wording import clauses, reads_as_question
from components.synonyms import NORMALISED_TEXT
import numpy as np
from scipy.sparse import csr_matrix, hstack
from scipy.special import softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

logger = logging.getLogger(__name__)
MODEL_FILE = "tfidf_intent_classifier.skops"
# The parse result's key for the intent of each clause of a message of several: a list, in the
# message's order, of {"name", "confidence", "question"} (whether the clause reads as a question).
CLAUSES = "clauses"
# More clauses than a visitor's question would have add only work and tracker events.
MAX_CLAUSES = 8


def classifier_text(message: Message) -> Optional[Text]:
    """The text the classifier learns from and classifies: the normalised text when a component
    before it has set one, otherwise the message text."""
    return message.get(NORMALISED_TEXT) or message.get(TEXT)


def first_asked_first(ranking: List[Dict[Text, Any]], clause_tops: List[Dict[Text, Any]],
                      answerable: Iterable[Text], clause_min: float) -> List[Dict[Text, Any]]:
    """Of two questions in one message ("what is cryo and does it hurt"), the one asked first is
    answered first and the other offered after it (actions/replies.py, questions_besides). A bag
    of words cannot tell which came first, so when the clauses that read as questions,
    classified on their own at `clause_min` or more, ask the message's top intent after another
    question (or a request for a visit or a person), that one takes the top place: the two swap
    names, the confidences stay in order."""
    asked = [c["name"] for c in clause_tops if c["question"] and c["confidence"] >= clause_min]
    if not ranking or ranking[0]["name"] not in asked[1:] or asked[0] not in answerable:
        return ranking
    names = [r["name"] for r in ranking]
    first = names.index(asked[0])
    names[0], names[first] = names[first], names[0]
    return [{**r, "name": name} for r, name in zip(ranking, names)]


class UnloadableClassifierError(RasaException):
    """The model has a trained TF-IDF classifier, but it cannot be loaded."""


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class TfidfIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "word_ngrams": [1, 2],
            "char_ngrams": [2, 5],
            "C": 10.0,  # inverse regularisation strength
            "max_iter": 3000,
            "ranking_length": 10,
            # Append dense sentence vectors (components/word_vectors.py) to the TF-IDF features,
            # multiplied by vector_weight (each TF-IDF block has unit length per message).
            "word_vectors": False,
            "vector_weight": 1.0,
            # Of two questions in one message, the one asked first is answered first
            # (first_asked_first) when its clause is classified at this confidence or more:
            # config.yml's thresholds.first_asked_clause. Above any confidence: off.
            "first_asked_clause": 1.1,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Pipeline] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._weights: Optional[np.ndarray] = None  # coef_ transposed, contiguous; see _probabilities
        # What may be answered first of two questions: content/answers.yml's, loaded once per
        # process with the REST channel (a broken file stops the server at start, naming it).
        self._answerable = frozenset(load_or_exit().offerable_intents())

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TfidfIntentClassifier":
        return cls({**cls.get_default_config(), **config}, model_storage, resource)

    def _new_model(self) -> Pipeline:
        def tfidf(analyzer: Text, ngrams: List[int]) -> TfidfVectorizer:
            return TfidfVectorizer(analyzer=analyzer, ngram_range=tuple(ngrams), sublinear_tf=True)

        return make_pipeline(
            make_union(
                tfidf("word", self._config["word_ngrams"]),
                tfidf("char_wb", self._config["char_ngrams"]),
            ),
            LogisticRegression(
                C=self._config["C"],
                max_iter=self._config["max_iter"],
                class_weight="balanced",
                random_state=42,
            ),
        )

    def _with_vectors(self, tfidf: Any, texts: List[Text]) -> Any:
        """The TF-IDF features, with the weighted sentence vectors appended when configured."""
        if not self._config["word_vectors"]:
            return tfidf
        from components.word_vectors import sentence_vectors

        vectors = csr_matrix(self._config["vector_weight"] * sentence_vectors(texts))
        return hstack([tfidf, vectors]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            e for e in training_data.intent_examples if e.get(INTENT) and classifier_text(e)
        ]
        if not examples:
            return self._resource
        texts = [classifier_text(e) for e in examples]
        model = self._new_model()
        # What Pipeline.fit does, with the sentence vectors added between its two steps.
        union, classifier = model.steps[0][1], model.steps[-1][1]
        classifier.fit(self._with_vectors(union.fit_transform(texts), texts),
                       [e.get(INTENT) for e in examples])
        self._model, self._weights = model, None
        self.persist()
        return self._resource

    def _probabilities(self, texts: List[Text]) -> np.ndarray:
        """The pipeline's predict_proba, done by hand because two of its steps dominated the Rasa
        server's profile for one short message: FeatureUnion's joblib dispatch, and a sparse
        row times the transposed (strided) coefficient matrix. Multinomial logistic regression
        is the softmax of the linear scores; a unit test checks the result is the same.
        With word vectors, the pipeline's own predict_proba does not apply (it lacks them)."""
        union, classifier = self._model.steps[0][1], self._model.steps[-1][1]
        features = self._with_vectors(
            hstack([t.transform(texts) for _, t in union.transformer_list]).tocsr(), texts
        )
        if classifier.coef_.shape[0] == 1:  # two intents: a binary model, no softmax
            return classifier.predict_proba(features)
        if self._weights is None:
            self._weights = np.ascontiguousarray(classifier.coef_.T)
        return softmax(features @ self._weights + classifier.intercept_, axis=1)

    def _ranking(self, probabilities: np.ndarray) -> List[Dict[Text, Any]]:
        return sorted(
            ({"name": name, "confidence": float(p)}
             for name, p in zip(self._model.classes_, probabilities)),
            key=lambda intent: -intent["confidence"],
        )

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        texts = [classifier_text(message) or "" for message in messages]
        # A message of two clauses or more ("my neck is stiff, how much is it?") has each of its
        # first MAX_CLAUSES classified too, in the same batch: the actions offer a question asked
        # in one clause that the whole message's ranking buries (actions/replies.py,
        # questions_besides). A button's payload ("/ask_cost") is no visitor's wording.
        parts = [[] if text.startswith("/") else clauses(text)[:MAX_CLAUSES] for text in texts]
        parts = [part if len(part) > 1 else [] for part in parts]
        probabilities = self._probabilities(texts + [c for part in parts for c in part])
        clause_rows = iter(probabilities[len(texts):])
        for message, row, part in zip(messages, probabilities, parts):
            ranking = self._ranking(row)
            if part:
                tops = [{**self._ranking(next(clause_rows))[0], "question": reads_as_question(text)}
                        for text in part]
                message.set(CLAUSES, tops, add_to_output=True)
                ranking = first_asked_first(ranking, tops, self._answerable,
                                            self._config["first_asked_clause"])
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                INTENT_RANKING_KEY, ranking[: self._config["ranking_length"]], add_to_output=True
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self._model, directory / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TfidfIntentClassifier":
        """The trained classifier; with no resource at all (nothing was trained, for instance
        no intent examples) one that leaves messages alone. A resource that is there but
        cannot be loaded is an error: the server must not run without its intent classifier."""
        config = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                model = cls._read_model(directory / MODEL_FILE, resource)
        except ValueError as error:  # only read_from raises it: the resource does not exist
            logger.debug(f"No trained TF-IDF intent classifier to load ({error}).")
            model = None
        if model is not None:
            cls._check_width(model, config, resource)
        return cls(config, model_storage, resource, model)

    @staticmethod
    def _check_width(model: Pipeline, config: Dict[Text, Any], resource: Resource) -> None:
        """The classifier must have been trained on as many features as we will give it: TF-IDF
        alone, or TF-IDF plus word vectors of the installed table's width."""
        union, classifier = model.steps[0][1], model.steps[-1][1]
        tfidf = sum(len(t.vocabulary_) for _, t in union.transformer_list)
        if config["word_vectors"]:
            from components.word_vectors import load

            expected, what = tfidf + load().dim, f"{tfidf} TF-IDF + {load().dim} word vector"
        else:
            expected, what = tfidf, f"{tfidf} TF-IDF"
        if classifier.coef_.shape[1] != expected:
            raise UnloadableClassifierError(
                f"The TF-IDF intent classifier (resource '{resource.name}') was trained on "
                f"{classifier.coef_.shape[1]} features but would be given {what} features "
                f"(word_vectors: {config['word_vectors']}). Retrain the model (make train)."
            )

    @staticmethod
    def _read_model(path: Path, resource: Resource) -> Pipeline:
        import skops.io as sio

        def broken(problem: Text) -> UnloadableClassifierError:
            return UnloadableClassifierError(
                f"The TF-IDF intent classifier cannot be loaded from {path} (resource "
                f"'{resource.name}' of the model): {problem}. Retrain the model (make train)."
            )

        if not path.is_file():
            raise broken(f"{MODEL_FILE} is missing")
        try:
            # skops refuses types it was not told to trust; these come from our own
            # training run, and only scikit-learn, NumPy and SciPy types are accepted.
            untrusted = sio.get_untrusted_types(file=path)
        except Exception as error:
            raise broken(f"not a readable skops file ({type(error).__name__}: {error})") from error
        foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy.", "scipy."))]
        if foreign:
            raise broken(f"it holds types other than scikit-learn, NumPy and SciPy: {foreign}")
        try:
            model = sio.load(path, trusted=untrusted)
        except Exception as error:
            raise broken(f"{type(error).__name__}: {error}") from error
        if not isinstance(model, Pipeline) or not hasattr(model, "predict_proba"):
            raise broken(f"expected a scikit-learn Pipeline, found {type(model).__name__}")
        return model
