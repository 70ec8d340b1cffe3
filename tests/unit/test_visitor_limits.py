"""visitors/limits.py and the REST channel's payload rule, tested directly; the servers' use of
them is in tests/e2e/test_hardening.py."""
import pytest

from channels.rest import button_intents, read_payload
from visitors.limits import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_allows_its_limit_then_refuses_until_time_passes():
    clock = Clock()
    window = SlidingWindow(2, 60, clock)
    assert [window.allows(["a"]) for _ in range(3)] == [True, True, False]
    assert window.allows(["b"])  # another key has its own count
    clock.now += 59.9
    assert not window.allows(["a"])
    clock.now += 0.2
    assert window.allows(["a"])


def test_a_refusal_counts_for_none_of_the_keys():
    window = SlidingWindow(1, 60, Clock())
    assert window.allows(["a"])
    assert not window.allows(["b", "a"])
    assert window.allows(["b"])  # "b" was not counted by the refused request


def test_empty_keys_are_ignored_and_old_entries_forgotten():
    clock = Clock()
    window = SlidingWindow(1, 10, clock)
    assert window.allows(["", None, "a"])
    clock.now += 11
    assert not window.is_full("a") and "a" not in window._events


ALLOWED = button_intents()


def test_emergency_is_never_a_button_intent_but_the_faq_and_helpers_are():
    assert "emergency" not in ALLOWED
    assert {"greet", "ask_cost", "affirm", "deny", "tell_me_more", "out_of_scope"} <= ALLOWED


@pytest.mark.parametrize("text, read", [
    ("/ask_cost", "/ask_cost"),
    ("/affirm", "/affirm"),
    ("/emergency", "emergency"),
    ('/affirm{"callback_phone": "x"}', 'affirm{"callback_phone": "x"}'),
    ("/nlu_fallback", "nlu_fallback"),
    ("//greet", "greet"),
    ("/ ", ""),
    ("how much/what price", "how much/what price"),
])
def test_payloads_other_than_button_intents_are_read_as_words(text, read):
    assert read_payload(text, ALLOWED) == read
