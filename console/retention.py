"""Retention: deletes conversations whose last event is older than N days, from the tracker store.

The one write the console makes to Rasa's tables: explicit (a CLI command), with bound
parameters, and logged (stderr and the console's audit table). Only whole conversations go,
every event of them, and only when even their last event is older than the cutoff: a
conversation someone came back to is kept whole, its old sessions too; with it go its summary,
verdicts, review and labels. The audit log stays (append-only), and so do the notifications (no
patient data in them).
"""
import logging
import time
from typing import List

from sqlalchemy import delete, func, select, update

from console.db import (
    Databases, callback_marks, callbacks, conversation_intents, conversations, events,
    index_state, labels, messages, notification_state, reviews, verdicts,
)
from console.indexer import chunks, index_all
from console.queries import log

logger = logging.getLogger("console.retention")


def expired_senders(dbs: Databases, cutoff: float) -> List[str]:
    """Conversations with no event at or after `cutoff`, straight from the tracker store."""
    query = (select(events.c.sender_id).group_by(events.c.sender_id)
             .having(func.max(events.c.timestamp) < cutoff))
    with dbs.tracker.connect() as db:
        return list(db.execute(query).scalars())


def delete_older_than(dbs: Databases, days: float, actor: str, dry_run: bool = False) -> int:
    """Deletes every conversation idle for more than `days` days; returns how many."""
    if days < 0:
        raise ValueError("days must not be negative")
    index_all(dbs)  # so the summary has everything that is about to go
    cutoff = time.time() - days * 86400
    senders = expired_senders(dbs, cutoff)
    if dry_run or not senders:
        return len(senders)
    deleted_events = 0
    with dbs.tracker.begin() as db:
        for part in chunks(senders):
            deleted_events += db.execute(delete(events).where(events.c.sender_id.in_(part))).rowcount
        highest = db.execute(select(func.max(events.c.id))).scalar() or 0
    with dbs.console.begin() as db:
        for part in chunks(senders):
            for table in (messages, conversation_intents, verdicts, reviews, labels,
                          conversations):
                db.execute(delete(table).where(table.c.sender_id.in_(part)))
            gone = select(callbacks.c.id).where(callbacks.c.sender_id.in_(part))
            db.execute(delete(callback_marks).where(callback_marks.c.callback_id.in_(gone)))
            db.execute(delete(callbacks).where(callbacks.c.sender_id.in_(part)))
        # SQLite reuses the highest deleted ids: never skip events that take them again.
        db.execute(update(index_state).where(index_state.c.last_event_id > highest)
                   .values(last_event_id=highest))
        # ... and notify the events that take them (console/notify.py).
        db.execute(update(notification_state)
                   .where(notification_state.c.baseline_event_id > highest)
                   .values(baseline_event_id=highest))
    detail = f"deleted {len(senders)} conversations ({deleted_events} events) idle > {days:g} days"
    logger.warning("retention by %s: %s", actor, detail)
    log(dbs, actor, "retention", detail)
    return len(senders)
