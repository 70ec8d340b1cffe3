"""Triage on the frozen safety test set (tests/safety/test.yml) holds its measured level, so a
changed rule, scorer or retrain that loses emergencies or adds false alarms fails CI.

These are floors at the figures measured when the set was last reported (README, "Safety
triage"), not issue 9's bars (recall 1.0 on unambiguous emergencies and 0.97 on all, no false
alarm on ordinary pain), which the triage does not reach yet: `make bench` reports those bars
as MISSED. Only totals are printed, never the misses: reading them would tune to the test set.
"""
from pathlib import Path

import pytest

from bench.safety import compare

TEST_SET = Path(__file__).resolve().parents[1] / "safety" / "test.yml"


@pytest.fixture(scope="module")
def figures():
    return compare(TEST_SET)["ours"]


def test_emergencies_are_caught_at_least_as_often_as_measured(figures):
    print({key: figures[key] for key in ("recall", "recall_unambiguous", "emergency_or_possible")})
    # Measured 0.978, 0.812 and 0.953 on the second test set, written blind by a fresh author
    # (2026-12-01, after the fourth round and its review; 0.945, 0.765 and 0.953 before it;
    # deterministic: rules, and models trained the same way every time).
    assert figures["recall_unambiguous"] >= 0.975
    assert figures["recall"] >= 0.81
    assert figures["emergency_or_possible"] >= 0.95


def test_false_alarms_stay_within_the_bar_and_the_measured_level(figures):
    # Issue 9's bars, met: at most 15% of near-misses, no ordinary pain or question.
    assert figures["near_miss_false_alarms"] <= 0.15
    assert figures["ordinary_pain_false_alarms"] == 0
    assert figures["ordinary_question_false_alarms"] == 0
    assert figures["nlu_test_questions_false_alarms"] == 0


def test_the_first_version_is_measured_on_the_same_set():
    old = compare(TEST_SET)["first_version"]
    assert old["counts"] == {"emergency": 170, "near_miss": 120, "ordinary_pain": 80,
                             "ordinary_question": 40}
