"""stores/session_rollover.py: when a long conversation gets a new session, and what it keeps."""
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.names import is_rollover
from stores.session_rollover import rollover_events

DOMAIN = Domain.load(str(Path(__file__).resolve().parents[2] / "domain.yml"))


def tracker(*turns, loop=None):
    """A session of question-and-answer turns: (text, actions) pairs, each ending in a listen."""
    events = [ActionExecuted("action_session_start"), SessionStarted(),
              ActionExecuted("action_listen")]
    for text, actions in turns:
        events.append(UserUttered(text, {"name": "ask_cost", "confidence": 1.0}))
        events.extend(actions)
        if loop:
            events.append(ActiveLoop(loop))
        events.append(ActionExecuted("action_listen"))
    return DialogueStateTracker.from_events("visitor", events, DOMAIN.slots)


ANSWERED = [ActionExecuted("action_answer_faq"), SlotSet("last_answer", "ask_cost")]


def test_no_new_session_before_the_limit_or_with_the_limit_off():
    assert rollover_events(tracker(*[("how much", ANSWERED)] * 2), 3) == []
    assert rollover_events(tracker(*[("how much", ANSWERED)] * 50), 0) == []


def test_at_the_limit_a_new_session_carries_the_slots_and_the_last_turn_over():
    events = rollover_events(tracker(("hi", [ActionExecuted("action_chat_reply")]),
                                     ("how much", ANSWERED),
                                     ("a person please", [ActionExecuted("action_handoff")])), 3)
    assert [type(e).__name__ for e in events] == [
        "SessionStarted", "SlotSet", "ActionExecuted", "ActionExecuted"]
    assert (events[1].key, events[1].value) == ("last_answer", "ask_cost")
    assert [e.action_name for e in events[2:]] == ["action_handoff", "action_listen"]
    assert all(is_rollover(e.as_dict()) for e in events)
    # None stamped before the session start, or Rasa's SQL store would not load it.
    assert min(e.timestamp for e in events) == events[0].timestamp


def test_never_inside_the_callback_form_nor_in_the_middle_of_a_turn():
    assert rollover_events(tracker(*[("book", ANSWERED)] * 5, loop="callback_form"), 3) == []
    unfinished = tracker(*[("how much", ANSWERED)] * 5)
    unfinished.update(UserUttered("and where", {"name": "ask_location_hours", "confidence": 1}))
    assert rollover_events(unfinished, 3) == []


def test_only_the_latest_session_counts():
    events = rollover_events(tracker(*[("how much", ANSWERED)] * 3), 3)
    rolled = tracker(*[("how much", ANSWERED)] * 3)
    for event in events:
        rolled.update(event)
    rolled.update(UserUttered("and where", {"name": "ask_location_hours", "confidence": 1}))
    rolled.update(ActionExecuted("action_listen"))
    assert rollover_events(rolled, 3) == []
