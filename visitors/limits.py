"""Counting requests per key in a sliding time window.

One Rasa server and one action server process (`make run`) see every request, so memory is
enough; a restart forgets the counts, which errs towards letting a visitor through. Several
Rasa servers behind nginx (`make cluster`) each see a share of a visitor's messages, so the
REST channel's limits are then kept in Redis (SharedLimits), where every replica counts alike.
"""
import logging
import os
import secrets
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Tuple

import redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


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


class LocalLimits:
    """Named windows in this process's memory: admit([("sender", id), ("address", hash)])."""

    def __init__(self, windows: Dict[str, Tuple[int, float]]) -> None:
        self.windows = {name: SlidingWindow(limit, seconds)
                        for name, (limit, seconds) in windows.items()}

    def admit(self, keys: Iterable[Tuple[str, Optional[str]]]) -> bool:
        return admit((self.windows[name], key) for name, key in keys)


# Every window of one request checked, and counted only if none is full, in one step: two
# replicas cannot both take the last place. Redis's own clock, so the replicas agree on it.
# KEYS: the windows; ARGV: a unique member, then each window's limit and seconds.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2 * i + 1]) * 1000)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 * i]) then return 0 end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i + 1]) * 1000))
end
return 1
"""


class SharedLimits:
    """The same windows in Redis, shared by every process that uses the same `prefix`. While
    Redis cannot be reached, each process falls back to its own memory (logged once per
    outage): a visitor is never refused, nor let through unlimited, because Redis restarts."""

    def __init__(self, client: Any, windows: Dict[str, Tuple[int, float]],
                 prefix: str = "clinic:limits") -> None:
        self.client = client
        self.windows = windows
        self.prefix = prefix
        self.local = LocalLimits(windows)
        self._script = client.register_script(_ADMIT)
        self._reachable = True

    def admit(self, keys: Iterable[Tuple[str, Optional[str]]]) -> bool:
        keys = [(name, key) for name, key in keys if key]
        arguments: List[Any] = [secrets.token_hex(8)]
        for name, _ in keys:
            arguments.extend(self.windows[name])
        try:
            allowed = self._script(keys=[f"{self.prefix}:{name}:{key}" for name, key in keys],
                                   args=arguments)
        except RedisError as error:
            if self._reachable:
                logger.error("visitor limits: Redis is unreachable (%s); each process counts "
                             "on its own until it is back", error)
            self._reachable = False
            return self.local.admit(keys)
        if not self._reachable:
            logger.warning("visitor limits: Redis is reachable again")
            self._reachable = True
        return bool(allowed)


def redis_from_environment(db: int) -> Any:
    """A client for the Redis of REDIS_HOST, REDIS_PORT and REDIS_PASSWORD (as the cluster's
    lock store in deploy/endpoints.yml), with short timeouts: a visitor's message never waits
    long on the limits."""
    return redis.Redis(host=os.environ.get("REDIS_HOST", "127.0.0.1"),
                       port=int(os.environ.get("REDIS_PORT", 6379)),
                       password=os.environ.get("REDIS_PASSWORD") or None, db=db,
                       socket_timeout=1.0, socket_connect_timeout=1.0)


def shared_key(client: Any, name: str) -> bytes:
    """A random key that every process using this Redis shares (made by whichever asks first),
    so that all replicas hash a visitor's address alike; a random one of this process's own
    while Redis cannot be reached."""
    try:
        client.set(name, secrets.token_bytes(16), nx=True)
        return client.get(name)
    except RedisError as error:
        logger.error("visitor limits: Redis is unreachable (%s); this process hashes "
                     "addresses with a key of its own", error)
        return secrets.token_bytes(16)
