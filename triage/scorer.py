"""The statistical second opinion: how likely a message is a red-flag emergency, for phrasing
no rule lists. TF-IDF over words and character n-grams, then logistic regression, trained on
data/triage/training.yml (emergencies against near-misses and ordinary pain, in English and
Spanish) when the engine starts: a second or so, and always in step with the data.

A second model tells thoughts of self-harm from everything else (the other emergencies,
near-misses such as "this pain is killing me", ordinary pain): self-harm is written in more
ways than any rule list holds, often with no word of pain at all. A third names the red flag
(or "none"): where the rules found nothing, the engine lets a very sure score make an
emergency only when this model names one red flag with some certainty. All three read the same
features (the same texts, so the same vocabulary), computed once per message.

Body-part words are removed before the model sees a message, so "back" or "neck" can carry no
weight towards an emergency: back and neck pain is what the clinic treats.
"""
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Optional, Tuple

import yaml
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from triage.rules import FLAGS

logger = logging.getLogger(__name__)
NO_FLAG = "none"
TRAINING = Path(__file__).resolve().parents[1] / "data" / "triage" / "training.yml"
BODY_WORDS = re.compile(
    r"\b(back|backs|neck|necks|spine|spinal|lumbar|lower|upper|mid|middle|shoulders?|blades?|"
    r"sciatica|discs?|disks?|vertebrae?|tailbone|hips?|espalda|cuello|columna|lumbares?)\b",
    re.IGNORECASE)


def mask_body_parts(text: str) -> str:
    return BODY_WORDS.sub(" ", text.lower())


def read_examples(path: Path = TRAINING) -> List[dict]:
    """The training examples, each checked: text, label, and flags the models may report."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = data["examples"]
    for index, example in enumerate(examples):
        if example.get("label") not in ("emergency", "not_emergency") or not example.get("text"):
            raise ValueError(f"{path}: examples[{index}]: needs text and a label "
                             "(emergency or not_emergency)")
        # The flag model reports these names: a misspelt one would reach the reply and the
        # console as a red flag of its own.
        flags = example.get("flags") or []
        if not isinstance(flags, list) or not set(flags) <= set(FLAGS):
            raise ValueError(f"{path}: examples[{index}].flags: expected a list of "
                             f"{', '.join(FLAGS)}; got {flags!r}")
    return examples


def flag_of(example: dict) -> str:
    """An emergency's first red flag; NO_FLAG for anything else."""
    if example["label"] != "emergency":
        return NO_FLAG
    return (example.get("flags") or [NO_FLAG])[0]


class Scorer:
    def __init__(self, features: Optional[FeatureUnion] = None,
                 model: Optional[LogisticRegression] = None,
                 self_harm_model: Optional[LogisticRegression] = None,
                 flag_model: Optional[LogisticRegression] = None) -> None:
        self.features = features
        self.model = model
        self.self_harm_model = self_harm_model
        self.flag_model = flag_model
        # The engine asks several models about one message: its features are made once.
        self._vector = lru_cache(maxsize=8)(self._features)

    @classmethod
    def trained(cls, path: Path = TRAINING) -> "Scorer":
        if not path.exists():
            logger.warning("triage: %s is missing; the rules alone decide", path)
            return cls()
        examples = read_examples(path)  # read once for the three models
        texts = [e["text"] for e in examples]
        labels = [e["label"] == "emergency" for e in examples]
        self_harm = [label and "self_harm" in (e.get("flags") or [])
                     for e, label in zip(examples, labels)]
        flags = [flag_of(e) for e in examples]
        features = FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ])
        matrix = features.fit_transform([mask_body_parts(t) for t in texts])
        # Self-harm is rare in the data (about one example in thirteen): unweighted, the model
        # stays calibrated and reads everyday chat ("goodbye and take care", "I'm ready, book
        # me") as the everyday chat it is.
        return cls(features, fit(matrix, labels),
                   fit(matrix, self_harm, balanced=False) if any(self_harm) else None,
                   fit(matrix, flags) if len(set(flags)) > 1 else None)

    def _features(self, text: str) -> Any:
        """FeatureUnion.transform without its joblib dispatch, which cost more than the work
        for one short message."""
        masked = [mask_body_parts(text)]
        return hstack([vectorizer.transform(masked)
                       for _, vectorizer in self.features.transformer_list]).tocsr()

    def score(self, text: str) -> float:
        """How likely the message is a red-flag emergency (any flag)."""
        if self.model is None:
            return 0.0
        return float(self.model.predict_proba(self._vector(text))[0][1])

    def self_harm(self, text: str) -> float:
        """How likely the message speaks of thoughts of self-harm."""
        if self.self_harm_model is None:
            return 0.0
        return float(self.self_harm_model.predict_proba(self._vector(text))[0][1])


    def flag(self, text: str) -> Tuple[str, float]:
        """The red flag the message most likely speaks of (NO_FLAG: none), and how likely."""
        if self.flag_model is None:
            return NO_FLAG, 0.0
        probabilities = self.flag_model.predict_proba(self._vector(text))[0]
        best = int(probabilities.argmax())
        return str(self.flag_model.classes_[best]), float(probabilities[best])


def fit(matrix: Any, labels: List[Any], balanced: bool = True) -> LogisticRegression:
    return LogisticRegression(C=4, max_iter=2000, class_weight="balanced" if balanced else None
                              ).fit(matrix, labels)
