"""Rasa's SQL tracker store, made so that no visitor turn is lost without anyone knowing.

Rasa wraps every tracker store in a FailSafeTrackerStore: when a save fails it logs, keeps the
turn in a process-local dict that nothing reads back, and the visitor gets a normal reply while
the conversation is lost. This store instead:
- keeps a turn it could not write in memory (so the next turn remembers it) and in a small
  SQLite spool file (so a restart does not lose it), records an incident there for the front
  desk (console/, "incidents"), and marks the turn so the REST channel tells the visitor;
- retries in the background until the tracker store takes it, then closes the incident;
- does its database work in a thread, so one locked or slow database stalls only the turns
  that must wait for it, not the whole server.
Spool file: the `spool_db` key in endpoints.yml, else TRACKER_SPOOL_DB, else
<VAR_DIR or var/>/tracker-spool.db, created with mode 600. It also keeps long conversations
at a flat cost per message: `session_max_messages` in endpoints.yml (stores/session_rollover.py).
"""
import asyncio
import itertools
import json
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from sqlalchemy import Index, create_engine
from sqlalchemy.orm import sessionmaker
from rasa.shared.core.trackers import DialogueStateTracker

from stores import spool_path
from stores.indexes import create_index
from stores.session_rollover import rollover_events

logger = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
SESSION_INDEXES = {"ix_events_sender_session": ("sender_id", "type_name", "timestamp"),
                   "ix_events_sender_time": ("sender_id", "timestamp")}
SPOOL_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_turns (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL,
    queued_at REAL NOT NULL, events TEXT NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS store_incidents (id INTEGER PRIMARY KEY, started_at REAL NOT NULL,
    ended_at REAL, error TEXT NOT NULL, turns_kept INTEGER NOT NULL DEFAULT 0,
    turns_written INTEGER NOT NULL DEFAULT 0);
"""

# Message ids of visitor turns that did not reach the tracker store, for the REST channel
# (channels/rest.py) to tell the visitor. Bounded: an id nobody asks about is dropped in time.
_UNSAVED_TURNS: "OrderedDict[str, float]" = OrderedDict()
_UNSAVED_LIMIT = 10_000


def turn_was_not_saved(message_id: Optional[str]) -> bool:
    """True once for a turn whose events could not be written (the channel asks after a turn)."""
    return message_id is not None and _UNSAVED_TURNS.pop(message_id, None) is not None


class Spool:
    """The spool file: turns waiting to be written, and the incidents staff see."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as db:
            db.executescript(SPOOL_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def keep(self, sender_id: str, pending: "Pending", error: str) -> None:
        now = time.time()
        kept = json.dumps({"events": pending.events, "written": pending.written})
        with self._connect() as db:
            db.execute("INSERT INTO pending_turns (sender_id, queued_at, events, error) "
                       "VALUES (?, ?, ?, ?)", (sender_id, now, kept, error))
            changed = db.execute("UPDATE store_incidents SET turns_kept = turns_kept + 1 "
                                 "WHERE ended_at IS NULL").rowcount
            if not changed:
                db.execute("INSERT INTO store_incidents (started_at, error, turns_kept) "
                           "VALUES (?, ?, 1)", (now, error))

    def written(self, sender_id: str) -> None:
        with self._connect() as db:
            count = db.execute("DELETE FROM pending_turns WHERE sender_id = ?",
                               (sender_id,)).rowcount
            db.execute("UPDATE store_incidents SET turns_written = turns_written + ? "
                       "WHERE ended_at IS NULL", (count,))

    def close_incident_if_clear(self) -> None:
        with self._connect() as db:
            if not db.execute("SELECT 1 FROM pending_turns LIMIT 1").fetchone():
                db.execute("UPDATE store_incidents SET ended_at = ? WHERE ended_at IS NULL",
                           (time.time(),))

    def latest_pending(self) -> Dict[str, "Pending"]:
        """Each waiting conversation's newest kept turn (its events include the older ones).
        A spool file of an earlier version holds the events alone: their written count is
        unknown (None)."""
        with self._connect() as db:
            rows = db.execute("SELECT sender_id, events FROM pending_turns ORDER BY id").fetchall()
        latest = {}
        for sender, kept in rows:
            kept = json.loads(kept)
            latest[sender] = (Pending(kept, None) if isinstance(kept, list)
                              else Pending(kept["events"], kept["written"]))
        return latest


@dataclass
class Pending:
    """A conversation's tracker not yet written: all its events, and how many of them the
    tracker store already has (None: unknown)."""
    events: List[Dict[str, Any]]
    written: Optional[int]


# Set on every tracker this store reads or writes: how many of its events the tracker store
# has. A tracker Rasa makes afresh (a new visitor, or a read that failed) has none.
WRITTEN = "clinic_events_written"
# Set on a tracker rebuilt from kept turns: a write that failed may have reached the database
# all the same (the connection dropped after the commit), so what is there is not written again.
KEPT = "clinic_kept_turns"


class SpoolingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain: Any = None, spool_db: Optional[Text] = None,
                 session_max_messages: int = 0, **kwargs: Any) -> None:
        super().__init__(domain=domain, **kwargs)
        # A connection PostgreSQL closed (a restart) is found before use, not by a failed turn:
        # Rasa builds its engine without pre-ping, so it is built again with it.
        url = self.engine.url
        self.engine.dispose()
        self.engine = create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.sessionmaker = sessionmaker(bind=self.engine)
        self.session_max_messages = int(session_max_messages)
        self._add_session_indexes()
        self.spool = Spool(Path(spool_db) if spool_db else spool_path())
        self._unsaved: Dict[str, Pending] = {}
        self._write_locks: Dict[str, asyncio.Lock] = {}
        self._retrying: Optional["asyncio.Task[None]"] = None
        self._spool_loaded = False

    def _add_session_indexes(self) -> None:
        """Rasa finds a conversation's latest session start, then the events since, by
        sender_id alone: a scan of every event the conversation ever had, on every message.
        These make both a seek, so a long conversation's old sessions cost nothing."""
        table = self.SQLEvent.__table__
        for name, columns in SESSION_INDEXES.items():
            create_index(self.engine, Index(name, *(table.c[column] for column in columns)))

    def waiting(self) -> int:
        """Conversations with turns not yet written (for the health endpoint)."""
        return len(self._unsaved)

    async def _in_thread(self, method: Callable, *args: Any) -> Any:
        """Runs one of SQLTrackerStore's coroutines (blocking SQLAlchemy inside) in a worker
        thread with its own event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: asyncio.run(method(self, *args)))

    def _tracker(self, sender_id: str, pending: Pending) -> DialogueStateTracker:
        tracker = DialogueStateTracker.from_dict(sender_id, pending.events, self.domain.slots)
        setattr(tracker, WRITTEN, pending.written)
        setattr(tracker, KEPT, True)
        return tracker

    def _load_spool(self) -> None:
        """After a restart, turns kept before it are waiting in the spool file."""
        if self._spool_loaded:
            return
        self._spool_loaded = True
        waiting = self.spool.latest_pending()
        if waiting:
            logger.warning("tracker store: %d conversations have turns waiting in %s",
                           len(waiting), self.spool.path)
            for sender_id, pending in waiting.items():
                self._unsaved.setdefault(sender_id, pending)
            self._start_retrying()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        self._load_spool()
        pending = self._unsaved.get(sender_id)
        if pending is not None:
            return self._tracker(sender_id, pending)
        tracker = await self._in_thread(SQLTrackerStore.retrieve, sender_id)
        if tracker is not None:
            setattr(tracker, WRITTEN, len(tracker.events))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: Text
                                    ) -> Optional[DialogueStateTracker]:
        """Every session of the conversation (the REST channel's check of a retried message)."""
        return await self._in_thread(SQLTrackerStore.retrieve_full_tracker, conversation_id)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        """The events added to this tracker since it was read. Rasa's store writes instead those
        past the number of events it holds for the conversation's latest session, which is
        wrong twice over: when a read fails (PostgreSQL restarting) Rasa goes on with a fresh
        tracker, shorter than the stored conversation, whose turns it would drop; and when two
        turns of a conversation overlap (a lock that expired under load), a session start the
        other wrote makes it write the whole session again."""
        written = getattr(tracker, WRITTEN, 0)
        if written is None:  # kept by an earlier version: only Rasa's count is known
            return super()._additional_events(session, tracker)
        new = list(itertools.islice(tracker.events, written, None))
        if getattr(tracker, KEPT, False) and new:
            event = self.SQLEvent
            stored = set(session.query(event.timestamp, event.type_name).filter(
                event.sender_id == tracker.sender_id,
                event.timestamp >= min(e.timestamp for e in new)))
            new = [e for e in new if (e.timestamp, e.type_name) not in stored]
        return iter(new)

    async def save(self, tracker: DialogueStateTracker) -> None:
        self._load_spool()
        for event in rollover_events(tracker, self.session_max_messages):
            tracker.update(event)
        sender_id = tracker.sender_id
        pending = Pending([event.as_dict() for event in tracker.events],
                          getattr(tracker, WRITTEN, 0))
        async with self._write_lock(sender_id):
            try:
                await self._in_thread(SQLTrackerStore.save, tracker)
            except Exception as error:  # any database failure: keep the turn, never drop it
                self._keep(tracker, pending, error)
                return
            setattr(tracker, WRITTEN, len(pending.events))
            if self._unsaved.pop(sender_id, None) is not None:
                self._mark_written(sender_id)

    def _write_lock(self, sender_id: str) -> asyncio.Lock:
        return self._write_locks.setdefault(sender_id, asyncio.Lock())

    def _keep(self, tracker: DialogueStateTracker, pending: Pending, error: Exception) -> None:
        sender_id = tracker.sender_id
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        logger.error("tracker store: could not write a turn (%s); kept in memory and in %s, "
                     "retrying every %.0f s", reason, self.spool.path, RETRY_SECONDS)
        self._unsaved[sender_id] = pending
        message_id = tracker.latest_message.message_id if tracker.latest_message else None
        if message_id:
            _UNSAVED_TURNS[message_id] = time.time()
            while len(_UNSAVED_TURNS) > _UNSAVED_LIMIT:
                _UNSAVED_TURNS.popitem(last=False)
        try:
            self.spool.keep(sender_id, pending, reason)
        except sqlite3.Error as spool_error:
            logger.critical("tracker store: the spool file %s cannot be written either (%s); "
                            "the turn is kept in memory only", self.spool.path, spool_error)
        self._start_retrying()

    def _mark_written(self, sender_id: str) -> None:
        logger.warning("tracker store: kept turns of a conversation are now written")
        try:
            self.spool.written(sender_id)
            if not self._unsaved:
                self.spool.close_incident_if_clear()
        except sqlite3.Error as error:
            logger.error("tracker store: could not update the spool file: %s", error)

    def _start_retrying(self) -> None:
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_event_loop().create_task(self._retry())

    async def _retry(self) -> None:
        while self._unsaved:
            await asyncio.sleep(RETRY_SECONDS)
            for sender_id in list(self._unsaved):
                async with self._write_lock(sender_id):
                    pending = self._unsaved.get(sender_id)
                    if pending is None:
                        continue  # a newer turn wrote it meanwhile
                    try:
                        await self._in_thread(SQLTrackerStore.save,
                                              self._tracker(sender_id, pending))
                    except Exception as error:
                        logger.info("tracker store: still cannot write (%s)", error)
                        break
                    del self._unsaved[sender_id]
                    self._mark_written(sender_id)
