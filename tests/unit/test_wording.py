"""clinic/wording.py: a message's clauses, and whether a piece of it reads as a question."""
import pytest

from clinic.wording import clauses, reads_as_question


@pytest.mark.parametrize("text, expected", [
    ("my neck is stiff, how much is it?", ["my neck is stiff", "how much is it?"]),
    ("how much is it and does it hurt", ["how much is it", "and does it hurt"]),
    ("back pain for months. do you take medicare?\nthanks a lot",
     ["back pain for months.", "do you take medicare?", "thanks a lot"]),
    ("what is it or how does it work; where are you", ["what is it", "or how does it work;",
                                                      "where are you"]),
    # "and" between two things is no new clause; one-word pieces are not clauses
    ("my neck and back hurt", ["my neck and back hurt"]),
    # an auxiliary after "and" starts a question only with a subject
    ("my back hurts and is stiff", ["my back hurts and is stiff"]),
    ("is it safe and can i use insurance", ["is it safe", "and can i use insurance"]),
    ("whats it cost and wheres the parking", ["whats it cost", "and wheres the parking"]),
    ("ok, thanks!", []), ("", []),
])
def test_clauses(text, expected):
    assert clauses(text) == expected


@pytest.mark.parametrize("text, question", [
    ("how much is it", True), ("and does it hurt", True), ("ok so where are you", True),
    ("or how does it work", True), ("price?", True), ("wait, is it safe", True),
    ("whats it cost", True), ("hows it work", True), ("wat's the price", True),
    ("my back hurts", False), ("whatever works", False), ("showing up late", False), ("I want to book", False), ("however long it takes", False),
    ("but can't do mornings", False), ("can’t before 10", False),
    ("", False),
])
def test_reads_as_question(text, question):
    assert reads_as_question(text) is question
