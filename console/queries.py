"""What the pages show: every query built with SQLAlchemy Core, so every value is a bound parameter."""
import json
import re
import time
from typing import Any, Dict, List, Optional

from sqlalchemy import Integer, and_, column, desc, func, or_, select, text, update

from console.db import (
    Databases, audit, callback_marks, callbacks, conversation_intents, conversations, events,
    messages, reviews,
)
from console.filters import PAGE_SIZE, Filters
from console.indexer import BADGE_ACTIONS, visible_text
from console.masking import mask

TRANSCRIPT_TYPES = ("user", "bot", "action", "slot", "session_started")
MAX_NOTE = 2000


def search_terms(q: str) -> List[str]:
    return re.findall(r"\w+", q.lower())[:10]


def _search(dbs: Databases, q: str):
    """Conversations in which one visitor message holds every word of `q`."""
    terms = search_terms(q)
    if not terms:
        return conversations.c.sender_id.in_(select(messages.c.sender_id).where(False))
    if dbs.fts:
        # Each term quoted (and prefix-matched), so no visitor-typed FTS5 syntax reaches MATCH.
        match = " AND ".join(f'"{term}"*' for term in terms)
        hits = text("SELECT rowid FROM console_messages_fts WHERE console_messages_fts MATCH :m")
        hits = hits.bindparams(m=match).columns(column("rowid", Integer))
        matching = select(messages.c.sender_id).where(messages.c.event_id.in_(hits))
    else:
        # Portable fallback (PostgreSQL, SQLite without FTS5): substring match, wildcards escaped.
        def like(term: str):
            escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return func.lower(messages.c.text).like(f"%{escaped}%", escape="\\")
        matching = select(messages.c.sender_id).where(and_(*[like(t) for t in terms]))
    return conversations.c.sender_id.in_(matching)


def conditions(dbs: Databases, filters: Filters) -> list:
    c = conversations.c
    where = []
    if filters.start_ts is not None:
        where.append(c.started >= filters.start_ts)
    if filters.end_ts is not None:
        where.append(c.started < filters.end_ts)
    for badge in ("callback", "handoff", "unanswered", "emergency"):
        wanted = getattr(filters, badge)
        if wanted:
            where.append(c[badge] == (wanted == "1"))
    if filters.intent:
        where.append(c.sender_id.in_(
            select(conversation_intents.c.sender_id)
            .where(conversation_intents.c.intent == filters.intent)))
    reviewed = select(reviews.c.sender_id).where(reviews.c.reviewed == True)  # noqa: E712
    if filters.reviewed == "yes":
        where.append(c.sender_id.in_(reviewed))
    elif filters.reviewed == "no":
        where.append(c.sender_id.not_in(reviewed))
    if filters.q:
        where.append(_search(dbs, filters.q))
    return where


def _conversation_row(row) -> Dict[str, Any]:
    record = dict(row._mapping)
    record["first_question"] = mask(record["first_question"])
    record["reviewed"] = bool(record.get("reviewed"))
    for badge in ("callback", "handoff", "unanswered", "emergency"):
        record[badge] = bool(record[badge])
    return record


def list_conversations(dbs: Databases, filters: Filters, paginate: bool = True) -> Dict[str, Any]:
    c = conversations.c
    where = conditions(dbs, filters)
    query = (
        select(c.sender_id, c.started, c.last_at, c.length, c.first_question, c.callback,
               c.handoff, c.unanswered, c.emergency, reviews.c.reviewed)
        .select_from(conversations.outerjoin(reviews, reviews.c.sender_id == c.sender_id))
        .where(*where).order_by(desc(c.started), desc(c.sender_id))
    )
    if paginate:
        query = query.limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
    with dbs.console.connect() as db:
        rows = [_conversation_row(r) for r in db.execute(query)]
        total = db.execute(select(func.count()).select_from(conversations).where(*where)).scalar()
    return {"total": total, "page": filters.page, "page_size": PAGE_SIZE,
            "pages": max(1, -(-total // PAGE_SIZE)), "conversations": rows}


def intents(dbs: Databases) -> List[str]:
    with dbs.console.connect() as db:
        return list(db.execute(select(conversation_intents.c.intent).distinct()
                               .order_by(conversation_intents.c.intent)).scalars())


QUEUE_PAGE = 200


def callback_count(dbs: Databases, status: str) -> int:
    query = select(func.count()).select_from(
        callbacks.outerjoin(callback_marks, callback_marks.c.callback_id == callbacks.c.id))
    called = callback_marks.c.called == True  # noqa: E712
    if status == "open":
        query = query.where(or_(callback_marks.c.called.is_(None), ~called))
    elif status == "called":
        query = query.where(called)
    with dbs.console.connect() as db:
        return db.execute(query).scalar()


def callback_queue(dbs: Databases, status: str = "open",
                   limit: Optional[int] = None) -> List[Dict[str, Any]]:
    """Completed callback requests, oldest open first; status "open", "called" or "all"."""
    k = callbacks.c
    query = (
        select(k.id, k.sender_id, k.requested_at, k.name, k.phone, k.preferred_time, k.question,
               callback_marks.c.called, callback_marks.c.note, callback_marks.c.updated_by,
               callback_marks.c.updated_at)
        .select_from(callbacks.outerjoin(callback_marks, callback_marks.c.callback_id == k.id))
    )
    called = callback_marks.c.called == True  # noqa: E712
    if status == "open":
        query = query.where(or_(callback_marks.c.called.is_(None), ~called)).order_by(k.requested_at)
    elif status == "called":
        query = query.where(called).order_by(desc(k.requested_at))
    else:
        query = query.order_by(desc(k.requested_at))
    if limit:
        query = query.limit(limit)
    with dbs.console.connect() as db:
        rows = [dict(r._mapping) for r in db.execute(query)]
    for row in rows:
        row["called"] = bool(row["called"])
        row["note"] = row["note"] or ""
        row["question"] = mask(row["question"])
    return rows


def callback_exists(dbs: Databases, callback_id: int) -> bool:
    with dbs.console.connect() as db:
        return db.execute(select(callbacks.c.id).where(callbacks.c.id == callback_id)).first() is not None


def conversation(dbs: Databases, sender_id: str) -> Optional[Dict[str, Any]]:
    with dbs.console.connect() as db:
        row = db.execute(
            select(conversations, reviews.c.reviewed, reviews.c.note, reviews.c.updated_by,
                   reviews.c.updated_at)
            .select_from(conversations.outerjoin(
                reviews, reviews.c.sender_id == conversations.c.sender_id))
            .where(conversations.c.sender_id == sender_id)).first()
    if row is None:
        return None
    record = _conversation_row(row)
    record.pop("fold_state", None)
    record["note"] = record["note"] or ""
    return record


def transcript(dbs: Databases, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation as it happened, from Rasa's events (visitor text masked)."""
    query = (
        select(events.c.id, events.c.type_name, events.c.timestamp, events.c.action_name,
               events.c.data)
        .where(and_(events.c.sender_id == sender_id, events.c.type_name.in_(TRANSCRIPT_TYPES)))
        .order_by(events.c.id)
    )
    with dbs.tracker.connect() as db:
        rows = list(db.execute(query))
    turns, buttons = [], {}
    for row in rows:
        turn = _turn(row, buttons)
        if turn:
            turns.append(turn)
    return turns


def _turn(row, buttons: Dict[str, str]) -> Optional[Dict[str, Any]]:
    """One bubble or marker; `buttons` carries the last bot buttons (payload -> title) along."""
    base = {"id": row.id, "timestamp": row.timestamp}
    if row.type_name == "action":
        if row.action_name in BADGE_ACTIONS:
            return dict(base, kind="event", text=BADGE_LABELS[BADGE_ACTIONS[row.action_name]])
        return None
    if row.type_name == "session_started":
        return dict(base, kind="event", text="New session")
    data = json.loads(row.data or "{}")
    if row.type_name == "user":
        intent = (data.get("parse_data") or {}).get("intent") or {}
        text = visible_text(str(data.get("text") or ""), buttons)
        return dict(base, kind="visitor", text=mask(text),
                    intent=intent.get("name"), confidence=intent.get("confidence"))
    if row.type_name == "bot":
        shown = [b for b in (data.get("data") or {}).get("buttons") or [] if isinstance(b, dict)]
        buttons.clear()
        buttons.update({b["payload"]: str(b.get("title", "")) for b in shown if b.get("payload")})
        return dict(base, kind="bot", text=data.get("text") or "",
                    buttons=[str(b.get("title", "")) for b in shown])
    if row.type_name == "slot" and data.get("name") == "callback_status" and data.get("value"):
        return dict(base, kind="event", text=f"Callback request {data['value']}")
    return None


BADGE_LABELS = {"callback": "Callback requested", "handoff": "Handed off to phone",
                "unanswered": "Unanswered (fallback)", "emergency": "Emergency guidance given"}


def unanswered_messages(dbs: Databases, filters: Filters) -> List[str]:
    where = [messages.c.unanswered == True]  # noqa: E712
    if filters.start_ts is not None:
        where.append(messages.c.timestamp >= filters.start_ts)
    if filters.end_ts is not None:
        where.append(messages.c.timestamp < filters.end_ts)
    with dbs.console.connect() as db:
        return [mask(t) for t in db.execute(select(messages.c.text).where(*where)).scalars()]


def _upsert(db, table, key_column, key, values: Dict[str, Any]) -> None:
    if db.execute(update(table).where(key_column == key).values(**values)).rowcount == 0:
        db.execute(table.insert().values({key_column.name: key, **values}))


def save_review(dbs: Databases, sender_id: str, reviewed: bool, note: str, staff: str) -> None:
    with dbs.console.begin() as db:
        _upsert(db, reviews, reviews.c.sender_id, sender_id,
                {"reviewed": reviewed, "note": note[:MAX_NOTE], "updated_by": staff,
                 "updated_at": time.time()})


def save_callback_mark(dbs: Databases, callback_id: int, called: bool, note: str, staff: str) -> None:
    with dbs.console.begin() as db:
        _upsert(db, callback_marks, callback_marks.c.callback_id, callback_id,
                {"called": called, "note": note[:MAX_NOTE], "updated_by": staff,
                 "updated_at": time.time()})


def log(dbs: Databases, actor: str, action: str, detail: str = "") -> None:
    with dbs.console.begin() as db:
        db.execute(audit.insert().values(at=time.time(), actor=actor, action=action, detail=detail))
