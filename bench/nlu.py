"""NLU quality on our held-out phrasing, next to a TF-IDF + logistic regression baseline trained
on the same data in the same run, and k-fold cross-validation of our pipeline."""
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List

import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.feature_extraction.text import TfidfVectorizer

from scripts.nlu_eval import ROOT, contract_intent, parse_all, read_examples, score
from scripts.serve import BIN, server_env

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
TRAINING = ROOT / "data" / "nlu"


def training_examples():
    return [pair for path in sorted(TRAINING.glob("*.yml")) for pair in read_examples(path)]


def tfidf_baseline(test: List[str]) -> List[str]:
    texts, intents = zip(*training_examples())
    model = make_pipeline(
        make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        LogisticRegression(max_iter=2000, class_weight="balanced"),
    )
    model.fit(texts, intents)
    return list(model.predict(test))


def heldout_comparison(model: Path) -> Dict[str, Dict[str, float]]:
    texts, labels = map(list, zip(*read_examples(HELDOUT)))
    ours = [contract_intent(p["intent"]["name"]) for p in parse_all(texts, model)]
    return {"ours": score(labels, ours), "tfidf_baseline": score(labels, tfidf_baseline(texts))}


def cross_validation(folds: int) -> Dict[str, float]:
    """`rasa test nlu --cross-validation` with our pipeline minus the FallbackClassifier, whose
    nlu_fallback would count as a miss on every example (as Sara's CV config does)."""
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != "FallbackClassifier"]
    config.pop("policies", None)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "config.yml"
        path.write_text(yaml.safe_dump(config))
        out = Path(scratch) / "results"
        subprocess.run(
            [str(BIN / "rasa"), "test", "nlu", "--cross-validation", "--folds", str(folds),
             "--config", str(path), "--nlu", str(TRAINING), "--out", str(out)],
            cwd=ROOT, env=server_env(), check=True, capture_output=True,
        )
        report = json.loads((out / "intent_report.json").read_text())
    return {"folds": folds, "accuracy": report["accuracy"], "macro_f1": report["macro avg"]["f1-score"]}
