"""A Redis lock store that serialises each conversation across Rasa processes.

Rasa 3.6's RedisLockStore keeps each conversation's ticket queue as one JSON value and changes it
by read-modify-write from Python (GET, change, SET). Two processes that take a ticket for the
same conversation at the same instant both read the same queue, both append "ticket 0" and both
believe they are served: their turns overlap, and the SQL tracker store, which decides what is
new by counting stored rows, then drops or duplicates events. A release that deletes the queue
can also delete a ticket another process has just added (that process then fails with LockError),
and every waiter's once-a-second "remove expired tickets" SET can overwrite a ticket issued in the
meantime (RasaHQ/rasa#9213, #5396, #4918; the fix, #11256, was reverted in #11428).

Here every change of a queue is one Lua script, which Redis runs atomically:
- a conversation's queue is a sorted set `<prefix>queue:<conversation id>`: member = ticket
  number, score = the ticket's expiry in Redis's own clock (ms), so the processes' clocks never
  matter;
- ticket numbers come from one INCR counter (`<prefix>counter`), unique for ever, so an expired
  ticket's number is never given to someone else;
- issue: drop expired tickets, INCR, ZADD, all in one script; the queue key itself expires with
  its last ticket, so a crashed process leaves nothing behind;
- acquire: a script drops expired tickets, renews the caller's own ticket, and answers "served"
  when the caller's number is the smallest live one (first come, first served), else how many
  are ahead; -1 when the ticket is gone (it expired: LockError, as in Rasa);
- release: ZREM the ticket and delete the queue only if it is then empty, in one script, so a
  ticket issued meanwhile is never deleted;
- while a turn runs, its ticket is renewed every lifetime/3: a slow turn (a slow action server)
  keeps the conversation, a crashed process loses it after at most one lifetime.

What it cannot do: a process that stalls for longer than the lifetime (its event loop blocked)
loses the conversation to the next one while it still runs; that is logged as an error.

When Redis cannot be reached at all, a turn is not refused (the visitor would get only the phone
number): it is serialised within its own process (Rasa's in-memory lock store), and each such
turn is logged as an error. Redis calls time out after 2 s (connecting: 1 s), as they run on the
event loop.

endpoints.yml:

    lock_store:
      type: stores.redis_lock.AtomicRedisLockStore
      url: 127.0.0.1          # Redis host
      port: 6379
      password: ${REDIS_PASSWORD}
      db: 1
      key_prefix: clinic      # optional, letters and digits
      lifetime: 20            # seconds a ticket lives without renewal (else TICKET_LOCK_LIFETIME, 60)
      poll_interval: 0.02     # seconds between tries of a waiting turn
"""
import asyncio
import logging
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Dict, Optional, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.02
SOCKET_TIMEOUT, CONNECT_TIMEOUT = 2.0, 1.0

# Redis's own clock in milliseconds, and the expired tickets of KEYS[1] dropped.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function expire_with_last_ticket(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, math.ceil(tonumber(last[2])) + 1000) end
end
"""

# KEYS: queue, counter. ARGV: lifetime in ms. Returns the new ticket's number.
_ISSUE = _PRELUDE + """
local number = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), number)
expire_with_last_ticket(KEYS[1])
return number
"""

# KEYS: queue. ARGV: ticket, lifetime in ms. Renews the ticket; returns 0 when it is served
# (the smallest live number), n > 0 when n tickets are ahead of it, -1 when it is gone.
_TRY = _PRELUDE + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
expire_with_last_ticket(KEYS[1])
local mine = tonumber(ARGV[1])
local ahead = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if tonumber(member) < mine then ahead = ahead + 1 end
end
return ahead
"""

# KEYS: queue. ARGV: ticket. Removes it; deletes the queue only when nothing is left in it.
_RELEASE = _PRELUDE + """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return removed
"""

# KEYS: queue. Live tickets as a flat list: number, expiry (ms), number, expiry, ...
_LIVE = _PRELUDE + """
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
"""


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's ticket lock protocol with each change of a ticket queue one atomic Lua script."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        lifetime: Optional[float] = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **kwargs: Any,
    ) -> None:
        settings: Dict[str, Any] = {}
        if endpoint_config is not None:  # Rasa builds a custom lock store from endpoints.yml
            settings.update(endpoint_config.kwargs or {})
            if endpoint_config.url:
                settings["host"] = endpoint_config.url
        settings.update(kwargs)
        lifetime = settings.pop("lifetime", lifetime)
        poll_interval = settings.pop("poll_interval", poll_interval)
        self.lifetime = float(lifetime) if lifetime else None
        self.poll_interval = float(poll_interval)
        settings.setdefault("socket_timeout", SOCKET_TIMEOUT)
        super().__init__(**settings)
        self.red.connection_pool.connection_kwargs.setdefault("socket_connect_timeout",
                                                              CONNECT_TIMEOUT)
        self._local = InMemoryLockStore()  # while Redis cannot be reached
        self.counter_key = self.key_prefix + "counter"
        self._issue = self.red.register_script(_ISSUE)
        self._try = self.red.register_script(_TRY)
        self._release = self.red.register_script(_RELEASE)
        self._live = self.red.register_script(_LIVE)
        self.red.ping()  # fail at start, not at the first visitor's message

    def queue_key(self, conversation_id: Text) -> Text:
        return self.key_prefix + "queue:" + conversation_id

    def _lifetime(self, requested: float) -> float:
        return self.lifetime or requested

    # The ticket protocol, each step one script.

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue(keys=[self.queue_key(conversation_id), self.counter_key],
                                   args=[int(lock_lifetime * 1000)]))
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def _try_ticket(self, conversation_id: Text, ticket: int, lifetime: float) -> int:
        return int(self._try(keys=[self.queue_key(conversation_id)],
                             args=[ticket, int(lifetime * 1000)]))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._release(keys=[self.queue_key(conversation_id)], args=[ticket_number])

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Releases the ticket; the queue goes with its last ticket, in the same script."""
        try:
            self.finish_serving(conversation_id, ticket_number)
        except Exception as error:  # Redis gone: the ticket expires on its own
            logger.error("lock store: could not release a ticket (%s); it expires by itself",
                         error)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Waits for this conversation's turn (polling every poll_interval, not Rasa's 1 s),
        and keeps the ticket alive while the turn runs."""
        lifetime = self._lifetime(lock_lifetime)
        try:
            ticket = self.issue_ticket(conversation_id, lifetime)
        except LockError as error:
            if not isinstance(error.__cause__, (RedisConnectionError, RedisTimeoutError)):
                raise
            logger.error("lock store: Redis cannot be reached (%s); this turn is serialised "
                         "within this process only", error.__cause__)
            async with self._local.lock(conversation_id, lifetime, self.poll_interval) as held:
                yield held
            return
        try:
            held = await self._wait_for(conversation_id, ticket, lifetime)
            keeper = asyncio.ensure_future(self._keep_alive(conversation_id, ticket, lifetime))
            try:
                yield held
            finally:
                keeper.cancel()
        finally:
            self.cleanup(conversation_id, ticket)

    async def _wait_for(self, conversation_id: Text, ticket: int, lifetime: float) -> TicketLock:
        while True:
            try:
                ahead = self._try_ticket(conversation_id, ticket, lifetime)
            except Exception as error:
                raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
            if ahead == 0:
                logger.debug("Acquired lock for conversation '%s'.", conversation_id)
                return self.get_lock(conversation_id) or TicketLock(conversation_id)
            if ahead < 0:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{conversation_id}': its ticket expired while waiting.")
            await asyncio.sleep(self.poll_interval)

    async def _keep_alive(self, conversation_id: Text, ticket: int, lifetime: float) -> None:
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                if self._try_ticket(conversation_id, ticket, lifetime) < 0:
                    logger.error("lock store: a turn of a conversation ran longer than the lock "
                                 "lifetime (%.0f s) without renewing it; another turn may have "
                                 "started meanwhile", lifetime)
                    return
            except Exception as error:
                logger.error("lock store: could not renew a ticket: %s", error)

    async def _acquire_lock(self, conversation_id: Text, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        return await self._wait_for(conversation_id, ticket, self._lifetime(LOCK_LIFETIME))

    # Rasa's LockStore interface, for anything that reads or changes a lock directly.

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        flat = self._live(keys=[self.queue_key(conversation_id)])
        if not flat:
            return None
        pairs = sorted((int(flat[i]), float(flat[i + 1]) / 1000) for i in range(0, len(flat), 2))
        return TicketLock(conversation_id, deque(Ticket(n, expires) for n, expires in pairs))

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        return bool(self._live(keys=[self.queue_key(conversation_id)]))

    def update_lock(self, conversation_id: Text) -> None:
        self._live(keys=[self.queue_key(conversation_id)])  # drops expired tickets, atomically

    def delete_lock(self, conversation_id: Text) -> None:
        self._log_deletion(conversation_id, bool(self.red.delete(self.queue_key(conversation_id))))

    def save_lock(self, lock: TicketLock) -> None:
        """Replaces a queue as a whole (MULTI/EXEC); the protocol itself never needs this."""
        key = self.queue_key(lock.conversation_id)
        with self.red.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if lock.tickets:
                pipe.zadd(key, {str(t.number): t.expires * 1000 for t in lock.tickets})
                pipe.pexpireat(key, int(max(t.expires for t in lock.tickets) * 1000) + 1000)
            pipe.execute()
