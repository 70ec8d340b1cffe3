"""What the pages show: every query built with SQLAlchemy Core, so every value is a bound parameter."""
import json
import re
import time
from typing import Any, Dict, List, Optional

from sqlalchemy import Integer, and_, column, desc, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from clinic.names import BADGE_ACTIONS, BADGES, SLOT_CALLBACK_STATUS, is_rollover
from console.db import (
    Databases, audit, callback_marks, callbacks, conversation_intents, conversations, events,
    labels, messages, reviews,
)
from console.filters import AUTO_LABELS, PAGE_SIZE, Filters
from console.indexer import triage_of, visible_text
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
        # PostgreSQL (and SQLite without FTS5): substring match, wildcards escaped. On PostgreSQL
        # the trigram index console/db.py TRIGRAM_INDEX answers these LIKEs: it is built on this
        # very expression, lower(text) (the planner matches the expression, not the column), and
        # pg_trgm reads the backslash escapes, so keep both as they are.
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
    for badge in BADGES:
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
    if filters.label in AUTO_LABELS:
        where.append(c[AUTO_LABELS[filters.label]] == True)  # noqa: E712
    elif filters.label:
        where.append(c.sender_id.in_(
            select(labels.c.sender_id).where(labels.c.label == filters.label)))
    if filters.q:
        where.append(_search(dbs, filters.q))
    return where


FLAGS = BADGES + ("not_helpful", "non_english")  # every Boolean column of a conversation


def _conversation_row(row) -> Dict[str, Any]:
    record = dict(row._mapping)
    record["first_question"] = mask(record["first_question"])
    record["reviewed"] = bool(record.get("reviewed"))
    for flag in FLAGS:
        record[flag] = bool(record[flag])
    return record


def manual_labels(db, senders: List[str]) -> Dict[str, List[str]]:
    """sender_id -> the labels staff put on it, in alphabetical order; for many conversations
    (an export) the whole table in one read (labels are few, conversations many)."""
    query = select(labels.c.sender_id, labels.c.label).order_by(labels.c.label)
    found: Dict[str, List[str]] = {}
    if len(senders) > 500:
        wanted = set(senders)
        rows = [r for r in db.execute(query) if r.sender_id in wanted]
    else:
        rows = db.execute(query.where(labels.c.sender_id.in_(senders))) if senders else []
    for row in rows:
        found.setdefault(row.sender_id, []).append(row.label)
    return found


def _with_labels(record: Dict[str, Any], manual: List[str]) -> Dict[str, Any]:
    """Adds `labels` (the automatic ones that apply, in AUTO_LABELS order, then the staff's)
    and `manual_labels` (the staff's alone)."""
    record["manual_labels"] = list(manual)
    record["labels"] = [name for name, column in AUTO_LABELS.items() if record[column]] + manual
    return record


def list_conversations(dbs: Databases, filters: Filters, paginate: bool = True) -> Dict[str, Any]:
    c = conversations.c
    where = conditions(dbs, filters)
    query = (
        select(c.sender_id, c.started, c.last_at, c.length, c.first_question, c.callback,
               c.handoff, c.unanswered, c.emergency, c.possible, c.not_helpful, c.non_english,
               reviews.c.reviewed)
        .select_from(conversations.outerjoin(reviews, reviews.c.sender_id == c.sender_id))
        .where(*where).order_by(desc(c.started), desc(c.sender_id))
    )
    if paginate:
        query = query.limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
    with dbs.console.connect() as db:
        rows = [_conversation_row(r) for r in db.execute(query)]
        total = db.execute(select(func.count()).select_from(conversations).where(*where)).scalar()
        staff_labels = manual_labels(db, [r["sender_id"] for r in rows])
    for row in rows:
        _with_labels(row, staff_labels.get(row["sender_id"], []))
    return {"total": total, "page": filters.page, "page_size": PAGE_SIZE,
            "pages": max(1, -(-total // PAGE_SIZE)), "conversations": rows}


def label_names(dbs: Databases) -> List[str]:
    """Every label staff have put on some conversation, alphabetically (the filter's choices)."""
    with dbs.console.connect() as db:
        return list(db.execute(select(labels.c.label).distinct().order_by(labels.c.label))
                    .scalars())


def add_label(dbs: Databases, sender_id: str, label: str, staff: str) -> bool:
    """Puts a (checked, filters.parse_label) label on a conversation; False if it had it."""
    try:
        with dbs.console.begin() as db:
            there = db.execute(select(labels.c.label).where(and_(
                labels.c.sender_id == sender_id, labels.c.label == label))).first()
            if there is not None:
                return False
            db.execute(labels.insert().values(sender_id=sender_id, label=label, added_by=staff,
                                              added_at=time.time()))
    except IntegrityError:
        return False  # a colleague added it at the same moment
    return True


def remove_label(dbs: Databases, sender_id: str, label: str) -> bool:
    """Takes a label off a conversation; False if it did not have it."""
    with dbs.console.begin() as db:
        return db.execute(labels.delete().where(and_(
            labels.c.sender_id == sender_id, labels.c.label == label))).rowcount > 0


def intents(dbs: Databases) -> List[str]:
    with dbs.console.connect() as db:
        return list(db.execute(select(conversation_intents.c.intent).distinct()
                               .order_by(conversation_intents.c.intent)).scalars())


QUEUE_PAGE = 200
_OPEN = or_(callback_marks.c.called.is_(None), callback_marks.c.called == False)  # noqa: E712
_CALLED = callback_marks.c.called == True  # noqa: E712


def phone_key(phone: Optional[str]) -> str:
    """The digits of a phone number: requests whose numbers share them are one caller."""
    return re.sub(r"\D", "", phone or "")


def _callback_select():
    k = callbacks.c
    return (
        select(k.id, k.sender_id, k.requested_at, k.name, k.phone, k.preferred_time, k.question,
               k.pain_body_part, k.pain_duration, callback_marks.c.called, callback_marks.c.note,
               callback_marks.c.updated_by, callback_marks.c.updated_at)
        .select_from(callbacks.outerjoin(callback_marks, callback_marks.c.callback_id == k.id))
    )


def pain_text(body_part: Optional[str], duration: Optional[str]) -> str:
    """The queue's Pain column: "lower back, 3 weeks", "neck", "3 weeks" or ""."""
    return ", ".join(part for part in (body_part, duration) if part)


def _tidy(row: Dict[str, Any]) -> Dict[str, Any]:
    row["called"] = bool(row["called"])
    row["note"] = row["note"] or ""
    row["question"] = mask(row["question"])
    row["pain"] = pain_text(row["pain_body_part"], row["pain_duration"])
    return row


def callback_count(dbs: Databases, status: str) -> int:
    """Callback requests (each one, not merged) with this status."""
    query = select(func.count()).select_from(
        callbacks.outerjoin(callback_marks, callback_marks.c.callback_id == callbacks.c.id))
    if status == "open":
        query = query.where(_OPEN)
    elif status == "called":
        query = query.where(_CALLED)
    with dbs.console.connect() as db:
        return db.execute(query).scalar()


def _requests(dbs: Databases, status: str, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    k = callbacks.c
    query = _callback_select()
    if status == "open":
        query = query.where(_OPEN).order_by(k.requested_at, k.id)
    elif status == "called":
        query = query.where(_CALLED).order_by(desc(k.requested_at), desc(k.id))
    else:
        query = query.order_by(desc(k.requested_at), desc(k.id))
    if limit:
        query = query.limit(limit)
    with dbs.console.connect() as db:
        return [dict(r._mapping) for r in db.execute(query)]


def callback_queue(dbs: Databases, status: str = "open",
                   limit: Optional[int] = None) -> List[Dict[str, Any]]:
    """Every completed callback request, one row each (the exports), oldest open first;
    status "open", "called" or "all"."""
    return [_tidy(row) for row in _requests(dbs, status, limit)]


def _entry(requests: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One queue entry for requests from one number (oldest first): the latest request's
    details, how many there are, and the most recently saved note."""
    entry = dict(requests[-1])
    marked = [r for r in requests if r["updated_at"] is not None]
    last_mark = max(marked, key=lambda r: r["updated_at"]) if marked else None
    for field in ("note", "updated_by", "updated_at"):
        entry[field] = last_mark[field] if last_mark else ("" if field == "note" else None)
    entry.update(requests=len(requests), ids=[r["id"] for r in requests],
                 sender_ids=[r["sender_id"] for r in requests],
                 first_requested_at=requests[0]["requested_at"])
    return entry


def merge_by_phone(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Open requests (oldest first) -> entries, one per phone number (compared by digits),
    ordered by their first request: who has waited longest comes first."""
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for row in rows:
        digits = phone_key(row["phone"])
        groups.setdefault(digits or f"request {row['id']}", []).append(row)
    return sorted((_entry(g) for g in groups.values()),
                  key=lambda e: (e["first_requested_at"], e["ids"][0]))


def callback_entries(dbs: Databases, status: str = "open",
                     limit: Optional[int] = None) -> Dict[str, Any]:
    """The queue page: open requests from the same number merged into one entry (the latest
    request's details; `requests`, `ids`, `sender_ids`, `first_requested_at` for all of them);
    called requests one by one, as each was marked. Open entries oldest first, else newest
    first. {"total": entries, "requests": requests, "callbacks": up to `limit` entries}."""
    entries: List[Dict[str, Any]] = []
    requests = total = 0
    if status in ("open", "all"):
        rows = _requests(dbs, "open")  # all of them: merging needs every number
        entries = merge_by_phone(rows)
        requests, total = len(rows), len(entries)
    if status in ("called", "all"):
        called = [_entry([row]) for row in _requests(dbs, "called", limit)]
        count = callback_count(dbs, "called")
        requests, total = requests + count, total + count
        if status == "called":
            entries = called
        else:
            entries = sorted(entries + called, key=lambda e: (e["requested_at"], e["id"]),
                             reverse=True)
    shown = entries[:limit] if limit else entries
    return {"total": total, "requests": requests, "callbacks": [_tidy(e) for e in shown]}


def callback_group(db, callback_id: int) -> List[int]:
    """The requests one entry of the queue stands for, given the id it shows (its latest): if
    that request is open, it and every earlier open request from the same number (a request
    that came in after the page was shown stays open); if it was called, it alone."""
    target = db.execute(_callback_select().where(callbacks.c.id == callback_id)).first()
    if target is None:
        return []
    digits = phone_key(target.phone)
    if target.called or not digits:
        return [callback_id]
    earlier = db.execute(_callback_select().where(and_(_OPEN, callbacks.c.id <= callback_id)))
    return sorted(row.id for row in earlier if phone_key(row.phone) == digits)


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
    with dbs.console.connect() as db:
        staff_labels = manual_labels(db, [sender_id]).get(sender_id, [])
    return _with_labels(record, staff_labels)


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
    data = json.loads(row.data or "{}")
    if is_rollover(data):
        return None  # a long conversation restated for the bot (stores/session_rollover.py)
    if row.type_name == "action":
        if row.action_name in BADGE_ACTIONS:
            return dict(base, kind="event", text=BADGE_LABELS[BADGE_ACTIONS[row.action_name]])
        return None
    if row.type_name == "session_started":
        return dict(base, kind="event", text="New session")
    if row.type_name == "user":
        intent = (data.get("parse_data") or {}).get("intent") or {}
        text = visible_text(str(data.get("text") or ""), buttons)
        triage = triage_of(data) or {}
        return dict(base, kind="visitor", text=mask(text),
                    intent=intent.get("name"), confidence=intent.get("confidence"),
                    triage_level=triage.get("level"), triage_flags=triage.get("flags", []))
    if row.type_name == "bot":
        shown = [b for b in (data.get("data") or {}).get("buttons") or [] if isinstance(b, dict)]
        buttons.clear()
        buttons.update({b["payload"]: str(b.get("title", "")) for b in shown if b.get("payload")})
        return dict(base, kind="bot", text=data.get("text") or "",
                    buttons=[str(b.get("title", "")) for b in shown])
    if row.type_name == "slot" and data.get("name") == SLOT_CALLBACK_STATUS and data.get("value"):
        return dict(base, kind="event", text=f"Callback request {data['value']}")
    return None


BADGE_LABELS = {"callback": "Callback requested", "handoff": "Handed off to phone",
                "unanswered": "Unanswered (fallback)", "emergency": "Emergency guidance given",
                "possible": "Possible emergency (safety line shown)"}


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


def save_callback_mark(dbs: Databases, callback_id: int, called: bool, note: str,
                       staff: str) -> List[int]:
    """Marks the queue entry shown with `callback_id` (see callback_group) called or not, with a
    note; returns the ids of the requests marked."""
    now = time.time()
    with dbs.console.begin() as db:
        ids = callback_group(db, callback_id)
        for request_id in ids:
            _upsert(db, callback_marks, callback_marks.c.callback_id, request_id,
                    {"called": called, "note": note[:MAX_NOTE], "updated_by": staff,
                     "updated_at": now})
    return ids


def log(dbs: Databases, actor: str, action: str, detail: str = "") -> None:
    """Appends to the audit log: who, what, when. The only write to console_audit there is
    (append-only: triggers refuse UPDATE and DELETE, console/db.py)."""
    with dbs.console.begin() as db:
        db.execute(audit.insert().values(at=time.time(), actor=actor, action=action,
                                         detail=detail[:2000]))


AUDIT_PAGE = 100


def audit_page(dbs: Databases, page: int = 1) -> Dict[str, Any]:
    """The audit log, newest first, AUDIT_PAGE entries a page."""
    with dbs.console.connect() as db:
        total = db.execute(select(func.count()).select_from(audit)).scalar()
        rows = [dict(r._mapping) for r in db.execute(
            select(audit).order_by(desc(audit.c.id)).limit(AUDIT_PAGE)
            .offset((page - 1) * AUDIT_PAGE))]
    return {"total": total, "page": page, "page_size": AUDIT_PAGE,
            "pages": max(1, -(-total // AUDIT_PAGE)), "entries": rows}


def audit_rows(dbs: Databases, limit: int) -> List[Dict[str, Any]]:
    """The whole audit log (up to `limit` entries, the oldest first), for the export."""
    with dbs.console.connect() as db:
        return [dict(r._mapping) for r in db.execute(select(audit).order_by(audit.c.id)
                                                      .limit(limit))]
