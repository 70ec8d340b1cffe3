"""Long conversations at a flat cost per message.

On every message Rasa loads the events of the conversation's current session, replays them
and posts them to the action server, so a conversation of a thousand messages makes each reply
many times slower than the first (issue 13) and slows every visitor on the same server. Rasa
loads only the latest session; so once a session holds `max_messages` visitor messages, the
tracker store starts a new one at the end of a turn, carrying over what the bot needs:
- the slot values (Rasa's own session start, with carry_over_slots_to_new_session false,
  would forget them: the conversation has not expired, it has only grown long);
- the actions of the turn just ended, so a reply to the bot's last question (a "yes" to the
  callback offer) still follows the rules.
Never inside the callback form, whose state is in its active loop. Every event stays in the
tracker store; the restating events are marked (clinic.names.ROLLOVER), so the console shows
the conversation as one and counts nothing twice.
"""
import time
from typing import List

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    ActionExecuted, Event, SessionStarted, SlotSet, UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.names import ROLLOVER

MARK = {ROLLOVER: True}


def messages_in_session(tracker: DialogueStateTracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        count += isinstance(event, UserUttered)
    return count


def last_turn_actions(tracker: DialogueStateTracker) -> List[str]:
    """The actions the bot ran after the visitor's latest message, in order."""
    names: List[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            names.append(event.action_name)
    return names[::-1]


def rollover_events(tracker: DialogueStateTracker, max_messages: int) -> List[Event]:
    """The events that start a new session now, or [] when this tracker's session may go on
    (a limit of 0 turns rollover off)."""
    last = tracker.events[-1] if tracker.events else None
    finished_turn = (isinstance(last, ActionExecuted) and last.action_name == ACTION_LISTEN_NAME
                     and not tracker.active_loop_name)
    if not max_messages or not finished_turn or messages_in_session(tracker) < max_messages:
        return []
    # One timestamp for all: Rasa's SQL store loads the events stamped at or after the latest
    # session start, so none of these may be stamped before it.
    now = time.time()
    slots = [SlotSet(name, slot.value, timestamp=now, metadata=MARK)
             for name, slot in tracker.slots.items() if slot.value != slot.initial_value]
    actions = [ActionExecuted(name, timestamp=now, metadata=MARK)
               for name in last_turn_actions(tracker) + [ACTION_LISTEN_NAME]]
    return [SessionStarted(timestamp=now, metadata=MARK), *slots, *actions]
