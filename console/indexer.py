"""Folds Rasa's events into the console's summary tables, incrementally.

Each run reads only events with an id above the last one indexed (a primary-key range read with
bound parameters), updates one summary row per conversation, and records the new high-water mark,
so pages never scan Rasa's `data` column. A conversation is a Rasa tracker (one sender_id).

In the same transaction it records the front desk's notifications (console/notify.py): each new
callback request (its callback_status="submitted" slot event) and each conversation's first
emergency guidance (its first action_emergency), keyed by the event, so each is recorded once.

Visitors' verdicts on answers (actions/verdicts.py): the visitor presses "Helpful" or "Not
helpful" (a `rate_answer` event with the entities answer and verdict) and, after "not helpful",
a reason (`explain_verdict`, entities answer and reason); the bot records each one it accepts
(one verdict per answer given, one reason per "not helpful") as the `answer_verdict` slot,
"ask_cost:not_helpful" then "ask_cost:not_helpful:did_not_answer". Each recorded verdict is one
row of console_verdicts (the slot event's id, the answer, the verdict, the reason once given):
the slot, not the visitor's press, so a repeat or a verdict on an answer never given is not
counted.

A callback request carries where it hurts and for how long (the pain_body_part and pain_duration
slots, set from the visitor's statement of pain, as they stand when the request is submitted):
the body part by its name (clinic.names.body_part_name: "my lower back" -> "lower back").
"""
import json
import re
import time
from typing import Any, Dict, Iterable, List, Optional

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from clinic.names import (
    ACTION_FALLBACK, BADGE_ACTIONS, CALLBACK_FORM, CALLBACK_SUBMITTED, HELPFUL,
    INTENT_EXPLAIN_VERDICT, INTENT_RATE_ANSWER, NOT_HELPFUL, SLOT_ANSWER_VERDICT,
    SLOT_CALLBACK_NAME, SLOT_CALLBACK_PHONE, SLOT_CALLBACK_STATUS, SLOT_CALLBACK_TIME,
    SLOT_PAIN_BODY_PART, SLOT_PAIN_DURATION, VERDICTS, body_part_name, is_rollover,
)
from console.db import (
    DERIVED, Databases, callbacks, conversation_intents, conversations, events, index_state,
    messages, notification_state, notifications, verdicts,
)

BATCH = 5000
# Events another transaction may still commit below a newer id (PostgreSQL sequences with several
# Rasa workers): an id gap younger than this stops the run, the next run looks again.
GAP_GRACE_SECONDS = 30
CALLBACK_SLOTS = (SLOT_CALLBACK_NAME, SLOT_CALLBACK_PHONE, SLOT_CALLBACK_TIME)
# Kept in the fold state until the session ends (a second request in it carries them too).
PAIN_SLOTS = (SLOT_PAIN_BODY_PART, SLOT_PAIN_DURATION)
MAX_PAIN = 100  # characters: the entities are short phrases
# Replies to the bot, not questions: never "the question that led to" a callback request, nor
# a conversation's first question while a real one follows.
# A visitor's verdict on an answer, and the reason for "not helpful" (button presses).
VERDICT_INTENTS = {INTENT_RATE_ANSWER, INTENT_EXPLAIN_VERDICT}
HELPER_INTENTS = {"affirm", "deny", "stop", "tell_me_more"} | VERDICT_INTENTS
FILLER_INTENTS = HELPER_INTENTS | {"greet", "goodbye", "thank"}
TRIAGE_LEVELS = ("emergency", "possible", "none")
# "<answer>:<verdict>" or "<answer>:not_helpful:<reason>", as actions/verdicts.py records them.
VERDICT_VALUE = re.compile(r"([A-Za-z0-9_.\-]{1,100}):(%s)(?::([a-z0-9_]{1,60}))?"
                           % "|".join(VERDICTS))
PARSED_TYPES = ("user", "bot", "slot")


def fresh_state() -> Dict[str, Any]:
    return {"slots": {}, "pain": {}, "question": None, "form_question": None, "in_form": False,
            "last_user": None, "buttons": {}, "intents": []}


def pain_of(slots: Dict[str, str]) -> Dict[str, str]:
    """The callback row's pain columns from the pain slots: the body part by its name (its
    words if it has no name we know), "" for what was not said."""
    part = slots.get(SLOT_PAIN_BODY_PART) or ""
    return {"pain_body_part": (body_part_name(part) or part)[:MAX_PAIN],
            "pain_duration": (slots.get(SLOT_PAIN_DURATION) or "")[:MAX_PAIN]}


def triage_of(data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A visitor message's safety triage (parse_data.triage): {"level", "flags", "language"}
    with a known level and flags as strings; None for a message without one (recorded before
    triage existed, or a button press)."""
    triage = (data.get("parse_data") or {}).get("triage")
    if not isinstance(triage, dict) or triage.get("level") not in TRIAGE_LEVELS:
        return None
    flags = triage.get("flags")
    language = triage.get("language")
    return {"level": triage["level"],
            "flags": [str(f) for f in flags] if isinstance(flags, list) else [],
            "language": str(language) if isinstance(language, str) else None}


def verdict_of(value: Any) -> Optional[Dict[str, Any]]:
    """{"answer", "verdict", "reason"} of an answer_verdict slot value, or None if it is not
    one (reason None: the verdict itself, not yet a reason)."""
    match = VERDICT_VALUE.fullmatch(value) if isinstance(value, str) else None
    if match is None or (match.group(3) and match.group(2) != NOT_HELPFUL):
        return None
    return {"answer": match.group(1), "verdict": match.group(2), "reason": match.group(3)}


# The widget's own buttons under an answer (web/widget/clinic-chat.js), sent as
# /rate_answer{"answer": ..., "verdict": ...}: the bot never offered them as buttons.
RATED = re.compile(r"/" + INTENT_RATE_ANSWER + r"(\{.*\})")
VERDICT_TITLES = {HELPFUL: "Helpful", NOT_HELPFUL: "Not helpful"}


def visible_text(text: str, buttons: Dict[str, str]) -> str:
    """What the visitor saw: a button press arrives as its payload ("/ask_cost")."""
    if text in buttons:
        return f"[button] {buttons[text]}"
    rated = RATED.fullmatch(text)
    if rated:
        try:
            verdict = json.loads(rated.group(1)).get("verdict")
        except (ValueError, AttributeError):
            verdict = None
        if verdict in VERDICT_TITLES:
            return f"[button] {VERDICT_TITLES[verdict]}"
    return text


class Batch:
    """The changes one run makes, written in one transaction."""

    def __init__(self, known: Dict[str, Dict[str, Any]]):
        self.conversations = known  # sender_id -> row (with "state" decoded), existing or new
        self.new_senders: set = set()
        self.intents: List[Dict[str, str]] = []
        self.messages: Dict[int, Dict[str, Any]] = {}
        self.unanswered_earlier: List[int] = []
        self.callbacks: List[Dict[str, Any]] = []
        self.verdicts: Dict[int, Dict[str, Any]] = {}  # new rows of console_verdicts by id
        self.reasons: List[Dict[str, Any]] = []  # reasons for rows of earlier runs
        self.notices: List[Dict[str, Any]] = []  # {"kind", "event_id", "event_at"}

    def conversation(self, sender: str, timestamp: float) -> Dict[str, Any]:
        row = self.conversations.get(sender)
        if row is None:
            row = {"sender_id": sender, "started": timestamp, "last_at": timestamp, "length": 0,
                   "first_question": None, "callback": False, "handoff": False,
                   "unanswered": False, "emergency": False, "possible": False,
                   "not_helpful": False, "non_english": False, "state": fresh_state()}
            self.conversations[sender] = row
            self.new_senders.add(sender)
        return row

    def apply(self, event: Any) -> None:
        data = json.loads(event.data) if event.data else {}
        if is_rollover(data):
            return  # a long conversation restated for the bot: nothing new happened
        conv = self.conversation(event.sender_id, event.timestamp or 0.0)
        conv["last_at"] = max(conv["last_at"], event.timestamp or 0.0)
        state = conv["state"]
        kind = event.type_name
        if kind == "user":
            self._user(conv, state, event, data)
        elif kind == "bot":
            conv["length"] += 1
            buttons = (data.get("data") or {}).get("buttons") or []
            state["buttons"] = {b["payload"]: b.get("title", "") for b in buttons
                                if isinstance(b, dict) and b.get("payload")}
        elif kind == "action" and event.action_name in BADGE_ACTIONS:
            badge = BADGE_ACTIONS[event.action_name]
            if badge == "emergency" and not conv["emergency"]:
                self.notices.append({"kind": "emergency", "event_id": event.id,
                                     "event_at": event.timestamp or 0.0})
            conv[badge] = True
            if event.action_name == ACTION_FALLBACK and state["last_user"] is not None:
                self._mark_unanswered(state["last_user"])
        elif kind == "slot":
            self._slot(conv, state, event, data)
        elif kind == "active_loop":
            starting = event.action_name == CALLBACK_FORM
            if starting and not state["in_form"]:
                state["form_question"] = state["question"]
            state["in_form"] = starting
        elif kind in ("session_started", "restart"):
            state.update(slots={}, pain={}, in_form=False, buttons={})

    def _user(self, conv, state, event, data) -> None:
        intent = ((data.get("parse_data") or {}).get("intent") or {})
        text = visible_text(str(data.get("text") or ""), state["buttons"])
        conv["length"] += 1
        triage = triage_of(data) or {}
        if triage.get("level") == "possible":
            conv["possible"] = True
        if triage.get("language") not in (None, "en"):
            conv["non_english"] = True
        name = event.intent_name or intent.get("name")
        if text and (conv["first_question"] is None or state.get("first_is_filler")):
            if conv["first_question"] is None or name not in FILLER_INTENTS:
                conv["first_question"] = text
                state["first_is_filler"] = name in FILLER_INTENTS
        if name and name not in state["intents"]:
            state["intents"].append(name)
            self.intents.append({"intent": name, "sender_id": event.sender_id})
        if not state["in_form"] and name not in HELPER_INTENTS and text:
            state["question"] = text
        state["last_user"] = event.id
        self.messages[event.id] = {
            "event_id": event.id, "sender_id": event.sender_id, "timestamp": event.timestamp,
            "text": text, "intent": name, "confidence": intent.get("confidence"),
            "unanswered": False,
        }

    def _verdict(self, conv, state, event, value) -> None:
        """A recorded verdict: a new row; a reason: onto the answer's latest "not helpful" row
        (state["unhelpful"]: answer -> its id), or a row of its own if there is none."""
        found = verdict_of(value)
        if found is None:
            return
        unhelpful = state.setdefault("unhelpful", {})
        earlier = unhelpful.get(found["answer"]) if found["reason"] else None
        if earlier is None:
            self.verdicts[event.id] = dict(found, id=event.id, sender_id=event.sender_id,
                                           at=event.timestamp or 0.0)
            if found["verdict"] == NOT_HELPFUL:
                unhelpful[found["answer"]] = event.id
            else:
                unhelpful.pop(found["answer"], None)
        elif earlier in self.verdicts:
            self.verdicts[earlier]["reason"] = found["reason"]
        else:
            self.reasons.append({"key": earlier, "new_reason": found["reason"]})
        if found["verdict"] == NOT_HELPFUL:
            conv["not_helpful"] = True

    def _mark_unanswered(self, event_id: int) -> None:
        if event_id in self.messages:
            self.messages[event_id]["unanswered"] = True
        else:
            self.unanswered_earlier.append(event_id)

    def _slot(self, conv, state, event, data) -> None:
        name, value = data.get("name"), data.get("value")
        if name in CALLBACK_SLOTS and value is not None:
            state["slots"][name] = str(value)
        elif name in PAIN_SLOTS:
            pain = state.setdefault("pain", {})  # a fold state from before has none
            if value is None:
                pain.pop(name, None)
            else:
                pain[name] = str(value)
        elif name == SLOT_ANSWER_VERDICT:
            self._verdict(conv, state, event, value)
        elif name == SLOT_CALLBACK_STATUS and value == CALLBACK_SUBMITTED:
            conv["callback"] = True
            slots = state["slots"]
            self.callbacks.append({
                "id": event.id, "sender_id": event.sender_id, "requested_at": event.timestamp,
                "name": slots.get(SLOT_CALLBACK_NAME), "phone": slots.get(SLOT_CALLBACK_PHONE),
                "preferred_time": slots.get(SLOT_CALLBACK_TIME), "question": state["form_question"],
                **pain_of(state.get("pain") or {}),
            })
            self.notices.append({"kind": "callback", "event_id": event.id,
                                 "event_at": event.timestamp or 0.0})
            state["slots"] = {}


def read_watermark(db) -> int:
    value = db.execute(select(index_state.c.last_event_id).where(index_state.c.id == 1)).scalar()
    return int(value or 0)


def cut_at_recent_gap(rows: List[Any], last_id: int, now: float) -> List[Any]:
    expected = last_id + 1
    for position, row in enumerate(rows):
        if row.id != expected and (row.timestamp or 0) > now - GAP_GRACE_SECONDS:
            return rows[:position]
        expected = row.id + 1
    return rows


def read_events(dbs: Databases, last_id: int, limit: int) -> List[Any]:
    # `data` only where the fold needs it: action events carry large, unused JSON.
    query = (
        select(events.c.id, events.c.sender_id, events.c.type_name, events.c.timestamp,
               events.c.intent_name, events.c.action_name,
               case((events.c.type_name.in_(PARSED_TYPES), events.c.data), else_=None)
               .label("data"))
        .where(events.c.id > last_id).order_by(events.c.id).limit(limit)
    )
    try:
        with dbs.tracker.connect() as db:
            return list(db.execute(query))
    except OperationalError:
        # No tracker store yet (Rasa has not started or has no events table): nothing to index.
        return []


def chunks(items: List[Any], size: int = 500) -> Iterable[List[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def load_conversations(db, senders: List[str]) -> Dict[str, Dict[str, Any]]:
    known = {}
    for part in chunks(senders):
        for row in db.execute(select(conversations).where(conversations.c.sender_id.in_(part))):
            record = dict(row._mapping)
            record["state"] = json.loads(record.pop("fold_state"))
            known[record["sender_id"]] = record
    return known


UPDATABLE = ("started", "last_at", "length", "first_question", "callback", "handoff",
             "unanswered", "emergency", "possible", "not_helpful", "non_english", "fold_state")


def notice_key(notice: Dict[str, Any]) -> str:
    """One event, whatever happens to the ids: SQLite gives the ids of deleted events (retention)
    to new ones, never with the same time."""
    return f"{notice['kind']}:{notice['event_id']}:{notice['event_at']!r}"


def record_notices(db, notices: List[Dict[str, Any]], baseline: int, now: float) -> int:
    """Adds the notifications of events after `baseline` that are not recorded yet (a rebuild
    folds every event again); returns how many."""
    fresh = {notice_key(n): n for n in notices if n["event_id"] > baseline}
    for part in chunks(list(fresh)):
        for key in db.execute(select(notifications.c.event_key)
                              .where(notifications.c.event_key.in_(part))).scalars():
            fresh.pop(key, None)
    if fresh:
        db.execute(notifications.insert(), [
            {"event_key": key, "kind": n["kind"], "event_id": n["event_id"],
             "event_at": n["event_at"], "created_at": now, "state": "pending", "attempts": 0,
             "last_error": "", "next_try_at": now}
            for key, n in sorted(fresh.items(), key=lambda item: item[1]["event_id"])])
    return len(fresh)


def read_baseline(db) -> Optional[int]:
    value = db.execute(select(notification_state.c.baseline_event_id)
                       .where(notification_state.c.id == 1)).scalar()
    return None if value is None else int(value)


def tracker_high_water(dbs: Databases) -> Optional[int]:
    """The highest event id in the tracker store: 0 when it has no events table or no file yet
    (nothing was there before), None when it does not answer now."""
    try:
        with dbs.tracker.connect() as db:
            return int(db.execute(select(func.max(events.c.id))).scalar() or 0)
    except (OperationalError, ProgrammingError) as problem:
        text = str(problem.orig).lower()
        if "no such table" in text or "does not exist" in text or "unable to open" in text:
            return 0
        return None


def ensure_baseline(dbs: Databases, last_id: int) -> Optional[int]:
    """The notification baseline, set on the first run: the events already indexed (an upgraded
    console.db), else all those in the tracker store now (a new one). None while the tracker
    store does not answer."""
    with dbs.console.connect() as db:
        baseline = read_baseline(db)
    if baseline is not None:
        return baseline
    value = last_id if last_id > 0 else tracker_high_water(dbs)
    if value is None:
        return None
    try:
        with dbs.console.begin() as db:
            db.execute(notification_state.insert().values(id=1, baseline_event_id=value))
    except IntegrityError:
        pass  # another process set it at the same moment
    with dbs.console.connect() as db:
        return read_baseline(db)


def write_batch(db, batch: Batch, last_id: int, new_last_id: int,
                baseline: Optional[int] = None) -> bool:
    """Writes everything, or nothing if another indexer got there first (False); notifications
    for the events after `baseline` (none when None)."""
    moved = db.execute(
        update(index_state)
        .where(and_(index_state.c.id == 1, index_state.c.last_event_id == last_id))
        .values(last_event_id=new_last_id)
    ).rowcount
    if moved != 1:
        return False
    new_rows, old_rows = [], []
    for sender, conv in batch.conversations.items():
        row = {k: v for k, v in conv.items() if k != "state"}
        row["fold_state"] = json.dumps(conv["state"])
        (new_rows if sender in batch.new_senders else old_rows).append(row)
    if new_rows:
        db.execute(conversations.insert(), new_rows)
    if old_rows:
        # executemany with bind names unlike the column names, as SQLAlchemy requires.
        db.execute(
            update(conversations)
            .where(conversations.c.sender_id == bindparam("key"))
            .values({name: bindparam(f"new_{name}") for name in UPDATABLE}),
            [dict({f"new_{n}": row[n] for n in UPDATABLE}, key=row["sender_id"])
             for row in old_rows],
        )
    if batch.intents:
        db.execute(conversation_intents.insert(), batch.intents)
    if batch.messages:
        db.execute(messages.insert(), list(batch.messages.values()))
    for part in chunks(batch.unanswered_earlier):
        db.execute(update(messages).where(messages.c.event_id.in_(part)).values(unanswered=True))
    if batch.callbacks:
        db.execute(callbacks.insert(), batch.callbacks)
    if batch.verdicts:
        db.execute(verdicts.insert(), list(batch.verdicts.values()))
    if batch.reasons:
        db.execute(update(verdicts).where(verdicts.c.id == bindparam("key"))
                   .values(reason=bindparam("new_reason")), batch.reasons)
    if batch.notices and baseline is not None:
        record_notices(db, batch.notices, baseline, time.time())
    return True


def index_once(dbs: Databases, limit: int = BATCH, now: Optional[float] = None) -> int:
    """Indexes up to `limit` new events; returns how many (0 when up to date)."""
    with dbs.console.connect() as db:
        last_id = read_watermark(db)
        baseline = read_baseline(db)
    if baseline is None:
        baseline = ensure_baseline(dbs, last_id)
    if baseline is None:
        return 0  # the tracker store does not answer: nothing to read either
    rows = cut_at_recent_gap(read_events(dbs, last_id, limit), last_id,
                             time.time() if now is None else now)
    if not rows:
        return 0
    with dbs.console.begin() as db:
        batch = Batch(load_conversations(db, sorted({row.sender_id for row in rows})))
        for row in rows:
            batch.apply(row)
        if not write_batch(db, batch, last_id, rows[-1].id, baseline):
            db.rollback()
            return 0
    return len(rows)


def index_all(dbs: Databases, limit: int = BATCH, progress=None) -> int:
    total = 0
    while True:
        done = index_once(dbs, limit)
        if not done:
            return total
        total += done
        if progress:
            progress(total)


def rebuild(dbs: Databases) -> int:
    """Empties the derived tables (never the staff's) and indexes everything again."""
    with dbs.console.begin() as db:
        for table in DERIVED:
            if table is not index_state:
                db.execute(table.delete())
        db.execute(update(index_state).values(last_event_id=0))
    return index_all(dbs)
