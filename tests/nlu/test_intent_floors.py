"""NLU on the frozen test sets (tests/nlu/test.yml, pain_statements.yml, booking_requests.yml,
two_part_test.yml, written before tuning, hashes in tests/frozen-test-sets.sha256) holds its
measured level, so a
retrain that loses accuracy fails CI; and scripts/nlu_eval.py, which tunes the thresholds,
scores exactly what the running pipeline does.

The floors are the figures measured when the sets were last reported (README, "NLU choices,
measured"), not issue 14's bars, which `make bench` reports. Only totals are printed, never the
misses: reading them would tune to the test sets. As GUIDE.md allows, nlu_fallback counts as
out_of_scope.
"""
from pathlib import Path

import pytest

from actions.thresholds import THRESHOLDS
from scripts.nlu_eval import (
    MODEL, ROOT, contract_intent, outcomes, parse_all, read_examples, read_two_part, refallback,
    same_phrasing, score, two_part_outcomes,
)

# Measured 2026-12-01 (README, "NLU choices, measured"): accuracy 0.921, macro-F1 0.930,
# confident wrong answers 0.050, emergency recall 29 of 30, pain statements 123 of 125,
# booking requests 84 of 85. Issue 14's bars (0.97, 0.96, 0.02; 0.95 and 0.95) are not met on
# the first three; `make bench` reports them. A floor sits one message below each figure.
ACCURACY_FLOOR = 0.918
MACRO_F1_FLOOR = 0.925
WRONG_CEILING = 0.052
EMERGENCY_RECALL_FLOOR = 0.96
PAIN_FLOOR = 0.976
BOOKING_FLOOR = 0.976
# Measured 2026-12-02, once, when the set was frozen: both parts answered or offered 0.800 (96
# of 120; the classifier's runner-up alone 0.667).
TWO_PART_FLOOR = 0.79

HERE = Path(__file__).parent
TEST_SETS = [HERE / "test.yml", HERE / "pain_statements.yml", HERE / "booking_requests.yml"]
DEV_SETS = [HERE / "dev.yml", HERE / "dev2.yml"]
# For the offer of a message's second part: tuned on, and frozen.
TWO_PART_DEV, TWO_PART_TEST = HERE / "two_part_dev.yml", HERE / "two_part_test.yml"


def examples(path):
    return read_examples(path)


@pytest.fixture(scope="module")
def parsed():
    """Every test and dev message parsed once by the trained model: {path: [(label, parse)]}."""
    paths = TEST_SETS + DEV_SETS
    pairs = {path: examples(path) for path in paths}
    parses = iter(parse_all([t for path in paths for t, _ in pairs[path]], MODEL))
    return {path: [(label, next(parses)) for _, label in pairs[path]] for path in paths}


def training_phrasings():
    return {same_phrasing(t) for path in (ROOT / "data" / "nlu").glob("*.yml")
            for t, _ in read_examples(path)}


def test_no_dev_message_is_in_the_training_data():
    training = training_phrasings()
    assert not [t for path in DEV_SETS for t, _ in examples(path) if same_phrasing(t) in training]
    assert not [t for path in (TWO_PART_DEV, TWO_PART_TEST) for t, _, _ in read_two_part(path)
                if same_phrasing(t) in training]


def test_the_two_part_sets_share_no_message():
    dev = {same_phrasing(t) for t, _, _ in read_two_part(TWO_PART_DEV)}
    assert not [t for t, _, _ in read_two_part(TWO_PART_TEST) if same_phrasing(t) in dev]


def test_test_messages_that_are_also_training_phrasing_do_not_grow():
    """Short, common messages ("hi", "thanks", "how much is it") written independently for the
    test set and the training data coincide: 113 of test.yml's 580 and 4 of the booking
    requests, measured 2026-12-01; `make bench` also scores the rest alone. Training data must
    not take more of the test sets' phrasing."""
    training = training_phrasings()
    shared = {path.name: sum(same_phrasing(t) in training for t, _ in examples(path))
              for path in TEST_SETS}
    assert shared == {"test.yml": 113, "pain_statements.yml": 0, "booking_requests.yml": 4}


def test_the_tuning_tool_replays_the_pipeline_exactly(parsed):
    """scripts/nlu_eval.py's sweep re-runs Rasa's FallbackClassifier on each parse; with the
    configured thresholds it must give back exactly the intent the running pipeline gave."""
    for path in DEV_SETS:
        for _, parse in parsed[path]:
            again = refallback(parse, THRESHOLDS["fallback"], THRESHOLDS["ambiguity"])
            assert again["intent"]["name"] == parse["intent"]["name"], parse["text"]


def figures(parsed, path):
    labels = [label for label, _ in parsed[path]]
    guesses = [contract_intent(p["intent"]["name"]) for _, p in parsed[path]]
    return {**score(labels, guesses), **outcomes([p for _, p in parsed[path]], labels, THRESHOLDS)}


def test_test_set_accuracy_holds(parsed):
    result = figures(parsed, HERE / "test.yml")
    print({k: round(v, 3) for k, v in result.items()})
    assert result["accuracy"] >= ACCURACY_FLOOR
    assert result["macro_f1"] >= MACRO_F1_FLOOR
    assert result["wrong"] <= WRONG_CEILING
    assert result["emergency_recall"] >= EMERGENCY_RECALL_FLOOR


def test_pain_statements_are_read_as_pain_and_never_as_emergencies(parsed):
    pairs = parsed[HERE / "pain_statements.yml"]
    pain = sum(p["intent"]["name"] == "describe_pain" for _, p in pairs) / len(pairs)
    emergencies = [p for _, p in pairs if (p.get("triage") or {}).get("level") == "emergency"]
    print({"describe_pain": round(pain, 3), "emergency": len(emergencies), "n": len(pairs)})
    assert pain >= PAIN_FLOOR
    assert not emergencies


def test_booking_requests_start_the_booking_flow(parsed):
    """book_appointment and ask_human both give the phone number, then offer the callback."""
    pairs = parsed[HERE / "booking_requests.yml"]
    booking = sum(p["intent"]["name"] in ("book_appointment", "ask_human") for _, p in pairs)
    print({"booking_flow": round(booking / len(pairs), 3), "n": len(pairs)})
    assert booking / len(pairs) >= BOOKING_FLOOR


def test_two_part_messages_have_both_parts_answered_or_offered():
    """The question answered and the other part answered too or offered as a button
    (actions/replies.py, questions_besides), on the frozen two-part test set."""
    parts = read_two_part(TWO_PART_TEST)
    result = two_part_outcomes(parse_all([t for t, _, _ in parts], MODEL), parts, THRESHOLDS)
    print({**result, "n": len(parts)})
    assert result["both"] >= TWO_PART_FLOOR
