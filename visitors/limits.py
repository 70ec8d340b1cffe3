"""Counting requests per key in a sliding time window, in this process's memory.

One Rasa server and one action server process (`make run`) see every request, so memory is
enough; a restart forgets the counts, which errs towards letting a visitor through.
"""
import time
from collections import deque
from typing import Callable, Deque, Dict, Iterable, Optional, Tuple


class SlidingWindow:
    """At most `limit` events per key within `seconds`."""

    def __init__(self, limit: int, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._events: Dict[str, Deque[float]] = {}

    def _recent(self, key: str, now: float) -> Deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def is_full(self, key: str) -> bool:
        return len(self._recent(key, self.clock())) >= self.limit

    def count(self, key: str) -> None:
        self._events.setdefault(key, deque()).append(self.clock())

    def allows(self, keys: Iterable[str]) -> bool:
        """True if none of the keys has used up its limit; then counts one event for each."""
        return admit((self, key) for key in keys)


def admit(requests: Iterable[Tuple[SlidingWindow, Optional[str]]]) -> bool:
    """True if no window is full for its key (empty keys are skipped); then counts one event in
    each. A refused request counts nowhere."""
    requests = [(window, key) for window, key in requests if key]
    if any(window.is_full(key) for window, key in requests):
        return False
    for window, key in requests:
        window.count(key)
    return True
