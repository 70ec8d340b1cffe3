"""NLU quality on the frozen test set (tests/nlu/test.yml, written before tuning) next to a plain
TF-IDF + logistic regression baseline and Rasa's default DIET pipeline, both trained on the same
data in the same run; and k-fold cross-validation of our pipeline. Only totals are reported.

Feature comparison (issue 14): the intent classifier alone, with no fallback or triage, scored
on the development set (tests/nlu/dev.yml) and by k-fold cross-validation of data/nlu:
  (a) TfidfIntentClassifier as it is;
  (b) Rasa's default DIET pipeline (what `rasa init` ships), trained and tested through Rasa;
  (c) TfidfIntentClassifier with word_vectors (TF-IDF plus dense sentence vectors).

    .venv/bin/python -m bench.nlu features            # (a) and (c) at three vector weights
    .venv/bin/python -m bench.nlu diet --folds 3      # (b): half an hour to train on two cores, CV longer
"""
import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union
from sklearn.feature_extraction.text import TfidfVectorizer

from scripts.nlu_eval import (
    ROOT, contract_intent, parse_all, read_examples, same_phrasing, score,
)
from scripts.serve import BIN, server_env

TEST = ROOT / "tests" / "nlu" / "test.yml"
# Two-part messages ("my neck is killing me, how much is it?"), written blind and frozen.
TWO_PART_TEST = ROOT / "tests" / "nlu" / "two_part_test.yml"
DEV = ROOT / "tests" / "nlu" / "dev.yml"
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


def test_set_comparison(model: Path, with_diet: bool = True) -> Dict[str, Dict[str, float]]:
    """Ours as it runs (fallback and triage included; nlu_fallback counts as out_of_scope, and
    the share of right, clarified, fell-back and wrong replies), the TF-IDF baseline and DIET;
    and on two-part messages, how often both parts are answered or offered, next to the offer
    of the classifier's runner-up alone (clause_question off)."""
    from actions.thresholds import THRESHOLDS
    from scripts.nlu_eval import outcomes, read_two_part, two_part_outcomes

    texts, labels = map(list, zip(*read_examples(TEST)))
    parts = read_two_part(TWO_PART_TEST)
    parses = parse_all(texts + [text for text, _, _ in parts], model)
    parses, two_part_parses = parses[:len(texts)], parses[len(texts):]
    ours = [contract_intent(p["intent"]["name"]) for p in parses]
    baseline = tfidf_baseline(texts)
    # Messages whose phrasing is not also in data/nlu (short common ones coincide): unseen.
    training = {same_phrasing(t) for t, _ in training_examples()}
    unseen = [i for i, t in enumerate(texts) if same_phrasing(t) not in training]

    def on_unseen(guesses: List[str]) -> Dict[str, float]:
        return score([labels[i] for i in unseen], [guesses[i] for i in unseen])

    result = {"ours": {**score(labels, ours), **outcomes(parses, labels, THRESHOLDS)},
              "tfidf_baseline": score(labels, baseline),
              "unseen": {"ours": on_unseen(ours), "tfidf_baseline": on_unseen(baseline)},
              "two_part": {"examples": len(parts),
                           "ours": two_part_outcomes(two_part_parses, parts, THRESHOLDS),
                           "runner_up_only": two_part_outcomes(
                               two_part_parses, parts, {**THRESHOLDS, "clause_question": 1.01})}}
    if with_diet:
        result["diet"] = diet_on(TEST)
    return result


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


# ---- Feature comparison: (a) TF-IDF, (b) DIET, (c) TF-IDF + word vectors --------------------

# What `rasa init` ships (rasa/cli/initial_project/config.yml, the pipeline Rasa 3.6 uses when
# none is given), less the components that do not classify intents (EntitySynonymMapper,
# ResponseSelector) and the FallbackClassifier, whose nlu_fallback would count as a miss.
DIET_PIPELINE = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
]

Pairs = Sequence[Tuple[str, str]]


def _scores(labels: List[str], guesses: List[str]) -> Dict[str, float]:
    result = score(labels, guesses)
    return {"accuracy": round(result["accuracy"], 4), "macro_f1": round(result["macro_f1"], 4),
            "examples": result["examples"]}


def tfidf_train_and_classify(config: Dict[str, Any], train: Pairs, test: List[str]
                             ) -> Tuple[List[str], float]:
    """Our TfidfIntentClassifier (with `config` over its defaults) trained through Rasa's model
    storage on `train`; its top intent for each `test` text, and the training time in seconds."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from components.tfidf_intent_classifier import TfidfIntentClassifier

    if config.get("word_vectors"):
        from components.word_vectors import load

        load()  # read the table once per process, outside the timed training
    with tempfile.TemporaryDirectory() as scratch:
        component = TfidfIntentClassifier.create(
            config, LocalModelStorage(Path(scratch)), Resource("tfidf"),
            ExecutionContext(GraphSchema({}), "bench"),
        )
        messages = [Message(data={TEXT: t, INTENT: i}) for t, i in train]
        started = time.perf_counter()
        component.train(TrainingData(training_examples=messages))
        seconds = time.perf_counter() - started
        parsed = component.process([Message(data={TEXT: t}) for t in test])
    return [m.get(INTENT)["name"] for m in parsed], seconds


def tfidf_on(config: Dict[str, Any], test_path: Path = DEV) -> Dict[str, float]:
    """(a)/(c): trained on data/nlu, scored on a labelled file (the development set)."""
    train = training_examples()
    texts, labels = map(list, zip(*read_examples(test_path)))
    guesses, seconds = tfidf_train_and_classify(config, train, texts)
    return {**_scores(labels, guesses), "train_seconds": round(seconds, 2),
            "training_examples": len(train)}


def tfidf_cross_validation(config: Dict[str, Any], folds: int = 5, seed: int = 0
                           ) -> Dict[str, float]:
    """(a)/(c): stratified k-fold over data/nlu; accuracy and macro-F1 over all held-out folds
    pooled (as `rasa test nlu --cross-validation` reports), mean training time per fold."""
    from sklearn.model_selection import StratifiedKFold

    pairs = training_examples()
    labels = [i for _, i in pairs]
    guesses: List[Optional[str]] = [None] * len(pairs)
    seconds = []
    for train_index, test_index in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
        pairs, labels
    ):
        fold, took = tfidf_train_and_classify(
            config, [pairs[i] for i in train_index], [pairs[i][0] for i in test_index]
        )
        seconds.append(took)
        for i, guess in zip(test_index, fold):
            guesses[i] = guess
    return {**_scores(labels, guesses), "folds": folds, "seed": seed,
            "train_seconds_per_fold": round(sum(seconds) / len(seconds), 2)}


def _diet_config(scratch: Path) -> Path:
    path = scratch / "config.yml"
    path.write_text(yaml.safe_dump({"recipe": "default.v1", "language": "en",
                                    "pipeline": DIET_PIPELINE}, sort_keys=False))
    return path


def diet_on(test_path: Path = DEV) -> Dict[str, float]:
    """(b): `rasa train nlu` with the default DIET pipeline in a scratch folder (training time
    is the command's wall time, Rasa's start-up included), then its parse of each example."""
    texts, labels = map(list, zip(*read_examples(test_path)))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "rasa"), "train", "nlu", "--config", str(_diet_config(scratch)),
             "--nlu", str(TRAINING), "--out", str(scratch), "--fixed-model-name", "diet"],
            cwd=scratch, env=server_env(), check=True, capture_output=True,
        )
        seconds = time.perf_counter() - started
        parses = parse_all(texts, scratch / "diet.tar.gz")
    guesses = [contract_intent(p["intent"]["name"]) for p in parses]
    return {**_scores(labels, guesses), "train_seconds": round(seconds, 1),
            "training_examples": len(training_examples())}


def diet_cross_validation(folds: int = 3) -> Dict[str, float]:
    """(b): `rasa test nlu --cross-validation` with the default DIET pipeline (wall time of the
    whole command: `folds` trainings and their tests)."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "rasa"), "test", "nlu", "--cross-validation", "--folds", str(folds),
             "--config", str(_diet_config(scratch)), "--nlu", str(TRAINING),
             "--out", str(scratch / "results")],
            cwd=scratch, env=server_env(), check=True, capture_output=True,
        )
        seconds = time.perf_counter() - started
        report = json.loads((scratch / "results" / "intent_report.json").read_text())
    return {"accuracy": round(report["accuracy"], 4),
            "macro_f1": round(report["macro avg"]["f1-score"], 4), "folds": folds,
            "wall_seconds": round(seconds, 1)}


def compare_features(weights: Sequence[float], folds: int, seeds: Sequence[int]
                     ) -> Dict[str, Any]:
    """(a), and (c) at each vector weight: on the development set and by cross-validation."""
    configs = {"a_tfidf": {}}
    configs.update({f"c_vectors_w{w:g}": {"word_vectors": True, "vector_weight": w}
                    for w in weights})
    return {
        name: {"dev": tfidf_on(config),
               "cv": [tfidf_cross_validation(config, folds, seed) for seed in seeds]}
        for name, config in configs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["features", "diet", "diet-dev", "diet-cv"])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    if args.what == "features":
        print(json.dumps(compare_features(args.weights, args.folds, args.seeds), indent=2))
        return
    # DIET's two measurements each take long on two cores: each is printed as soon as it is done.
    if args.what in ("diet", "diet-dev"):
        print(json.dumps({"b_diet": {"dev": diet_on()}}), flush=True)
    if args.what in ("diet", "diet-cv"):
        print(json.dumps({"b_diet": {"cv": diet_cross_validation(args.folds)}}), flush=True)


if __name__ == "__main__":
    main()
