"""The home page's figures: what is waiting today, and how the assistant did over a period.

Everything comes from the console's summary tables (console/db.py), never from Rasa's events:
one aggregate query each, over an index that holds every column it reads (covering), with bound
parameters:

- conversations per local hour of `started` (ix_console_conv_home), with the count of each
  badge: the hour is that of `started` plus the clinic's UTC offset, which the query takes as
  bound parameters for each stretch of the period between DST changes (a CASE), so the groups
  are the clinic's own hours and days, at most 24 a day;
- visitor messages per intent over the period (ix_console_messages_time_intent): top questions;
- visitors' verdicts per answer (ix_console_verdicts_home): the helpful rate;
- today: open callback requests, today's emergency and possible-emergency conversations and the
  ones nobody has marked reviewed (the badge indexes).

"Answered without help": a conversation with no fallback (unanswered), no handoff to phone and
no callback request.
"""
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Tuple

from sqlalchemy import Integer, and_, case, cast, func, literal, select

from console.db import (
    Databases, callback_marks, callbacks, conversations, messages, reviews, verdicts,
)
from console.filters import Period, clinic_zone, day_start
from console.indexer import FILLER_INTENTS
from console.queries import _OPEN, phone_key

HOUR = 3600
EPOCH = date(1970, 1, 1)
OFFSET_STEP = 6 * HOUR  # no time zone changes its UTC offset twice within six hours
TOP = 10
# The period's measures, each a count of conversations, in the order the page shows them.
MEASURES = {
    "answered_alone": "Answered without help",
    "unanswered": "Fallback (unanswered)",
    "handoff": "Handed off to phone",
    "callback": "Callback requested",
    "emergency": "Emergency guidance given",
    "possible": "Possible emergency (safety line)",
}
DEFINITIONS = {
    "answered_alone": "conversations with no fallback, no handoff to phone and no callback request",
    "unanswered": "conversations in which the assistant fell back at least once",
    "top_questions": "visitor messages per intent, greetings, thanks and replies such as yes/no "
                     "or ratings left out",
    "helpful_rate": "helpful verdicts / all verdicts visitors gave on answers, as the bot recorded "
                    "them (one per answer given; the answer_verdict slot)",
    "days": "calendar days in the clinic's time zone; a conversation counts on the day and hour "
            "it started",
}


def _offset(timestamp: float, zone) -> int:
    return int(datetime.fromtimestamp(timestamp, zone).utcoffset().total_seconds())


def offset_stretches(start_ts: float, end_ts: float, zone) -> List[Tuple[float, int]]:
    """[(from, the zone's UTC offset in seconds from then on)] over [start_ts, end_ts): one
    stretch, or one more for each DST change in between (found to the second)."""
    stretches = [(start_ts, _offset(start_ts, zone))]
    at = start_ts
    while at < end_ts:
        step = min(at + OFFSET_STEP, end_ts)
        if _offset(step - 1, zone) != stretches[-1][1]:
            # the offset changes after low, by high (at - 1 had the old one, checked before)
            low, high = (at - 1 if at > start_ts else at), step - 1
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(middle, zone) == stretches[-1][1]:
                    low = middle
                else:
                    high = middle
            stretches.append((float(high), _offset(high, zone)))
        at = step
    return stretches


def _local_hour(dbs: Databases, column, stretches: List[Tuple[float, int]]):
    """The local hour (since 1970-01-01 00:00 local time) a UTC time falls in, as an integer:
    floor((time + UTC offset) / 3600), the offsets bound parameters."""
    offset = literal(stretches[-1][1])
    if len(stretches) > 1:
        offset = case(*[(column < until, shift) for (_, shift), (until, _) in
                        zip(stretches, stretches[1:])], else_=stretches[-1][1])
    local = (column + offset) / HOUR
    if dbs.console.dialect.name == "sqlite":
        return cast(local, Integer)  # CAST truncates: the floor, for times after 1970
    return cast(func.floor(local), Integer)


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def conversations_by_hour(dbs: Databases, start_ts: float, end_ts: float,
                          zone) -> List[tuple]:
    """(local hour since 1970, conversations, then each of MEASURES) per local hour that has
    conversations starting in [start_ts, end_ts)."""
    c = conversations.c
    hour = _local_hour(dbs, c.started, offset_stretches(start_ts, end_ts, zone)).label("hour")
    alone = and_(c.callback == False, c.handoff == False, c.unanswered == False)  # noqa: E712
    query = (
        select(hour, func.count(), _count_if(alone), _count_if(c.unanswered == True),  # noqa
               _count_if(c.handoff == True), _count_if(c.callback == True),  # noqa: E712
               _count_if(c.emergency == True), _count_if(c.possible == True))  # noqa: E712
        .where(and_(c.started >= start_ts, c.started < end_ts))
        .group_by(hour)
    )
    with dbs.console.connect() as db:
        return [tuple(row) for row in db.execute(query)]


def top_questions(dbs: Databases, start_ts: float, end_ts: float):
    """(every intent's count, most asked first; the number of visitor questions)."""
    m = messages.c
    count = func.count().label("n")
    query = (
        select(m.intent, count)
        .where(and_(m.timestamp >= start_ts, m.timestamp < end_ts, m.intent.isnot(None),
                    m.intent.not_in(sorted(FILLER_INTENTS))))
        .group_by(m.intent)
    )
    with dbs.console.connect() as db:
        rows = sorted(((row.intent, row.n) for row in db.execute(query)),
                      key=lambda item: (-item[1], item[0]))
    return [{"intent": intent, "count": n} for intent, n in rows], sum(n for _, n in rows)


def verdict_figures(dbs: Databases, start_ts: float, end_ts: float) -> Dict[str, Any]:
    """Helpful and not helpful verdicts, the helpful rate and the reasons given for "not
    helpful", in all and per answer (most rated first)."""
    v = verdicts.c
    query = (select(v.answer, v.verdict, v.reason, func.count().label("n"))
             .where(and_(v.at >= start_ts, v.at < end_ts))
             .group_by(v.answer, v.verdict, v.reason))
    counts: Dict[str, Counter] = {}
    reasons: Dict[str, Counter] = {}
    with dbs.console.connect() as db:
        for row in db.execute(query):
            counts.setdefault(row.answer, Counter())[row.verdict] += row.n
            reasons.setdefault(row.answer, Counter())
            if row.reason:
                reasons[row.answer][row.reason] += row.n
    answers = [_rate({"answer": answer}, counts[answer], reasons[answer]) for answer in counts]
    answers.sort(key=lambda a: (-a["verdicts"], a["answer"]))
    return dict(_rate({}, sum(counts.values(), Counter()), sum(reasons.values(), Counter())),
                by_answer=answers)


def _rate(record: Dict[str, Any], counts: Counter, reasons: Counter) -> Dict[str, Any]:
    helpful, unhelpful = counts.get("helpful", 0), counts.get("not_helpful", 0)
    total = helpful + unhelpful
    return dict(record, helpful=helpful, not_helpful=unhelpful, verdicts=total,
                rate=round(helpful / total, 4) if total else None,
                reasons=dict(sorted(reasons.items())))


def today_figures(dbs: Databases, day: date) -> Dict[str, Any]:
    """What is waiting: open callback requests (and how many people they are, requests from one
    number being one), today's emergency and possible-emergency conversations, and those not
    marked reviewed (today, and all days)."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    k = callbacks.c
    c = conversations.c
    with dbs.console.connect() as db:
        # One row per phone number as typed (a caller types it alike, mostly), merged by its
        # digits below, as the queue does (queries.merge_by_phone).
        open_phones = list(db.execute(
            select(k.phone, func.count().label("n"),
                   _count_if(and_(k.requested_at >= start, k.requested_at < end)).label("today"))
            .select_from(callbacks.outerjoin(callback_marks, callback_marks.c.callback_id == k.id))
            .where(_OPEN).group_by(k.phone)))

        def count(*where, reviewed_only: bool = False) -> int:
            # Those reviewed counted from the reviews (few), not by a NOT IN for each flagged
            # conversation (many): flagged - flagged and reviewed.
            table = conversations
            if reviewed_only:
                table = conversations.join(reviews, and_(reviews.c.sender_id == c.sender_id,
                                                         reviews.c.reviewed == True))  # noqa
            return db.execute(select(func.count()).select_from(table).where(*where)).scalar()

        found: Dict[str, Any] = {"date": day.isoformat()}
        for flag in ("emergency", "possible"):
            is_flagged = c[flag] == True  # noqa: E712
            today = and_(c.started >= start, c.started < end)
            flagged_today, flagged = count(is_flagged, today), count(is_flagged)
            found[flag] = {
                "today": flagged_today,
                "today_not_reviewed":
                    flagged_today - count(is_flagged, today, reviewed_only=True),
                "not_reviewed": flagged - count(is_flagged, reviewed_only=True),
            }
    numbers = {phone_key(row.phone) for row in open_phones} - {""}
    without_number = sum(row.n for row in open_phones if not phone_key(row.phone))
    found["callbacks"] = {
        "open_requests": sum(row.n for row in open_phones),
        "open_people": len(numbers) + without_number,  # a request without digits: one each
        "requested_today": sum(int(row.today or 0) for row in open_phones),
    }
    return found


def figures(dbs: Databases, period: Period, day: date) -> Dict[str, Any]:
    """Everything the home page shows, as plain data (the JSON twin)."""
    zone = clinic_zone()
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    per_day = {d: Counter() for d in days}
    per_hour = [0] * 24
    for local_hour, n, *measures in conversations_by_hour(dbs, period.start_ts, period.end_ts,
                                                          zone):
        day_number, hour = divmod(local_hour, 24)
        counts = per_day.setdefault(EPOCH + timedelta(days=day_number), Counter())
        counts["conversations"] += n
        for name, value in zip(MEASURES, measures):
            counts[name] += int(value or 0)
        per_hour[hour] += n
    totals = sum(per_day.values(), Counter())
    conversations_total = totals["conversations"]
    questions, asked = top_questions(dbs, period.start_ts, period.end_ts)
    return {
        "timezone": str(getattr(zone, "key", zone)),
        "period": dict(period.query_args(), days=period.days),
        "today": today_figures(dbs, day),
        "totals": dict({"conversations": conversations_total},
                       **{name: totals[name] for name in MEASURES}),
        "shares": {name: round(totals[name] / conversations_total, 4) if conversations_total
                   else None for name in MEASURES},
        "per_day": [dict({"date": d.isoformat(), "conversations": per_day[d]["conversations"]},
                         **{name: per_day[d][name] for name in MEASURES}) for d in days],
        "per_hour": [{"hour": hour, "conversations": n} for hour, n in enumerate(per_hour)],
        "questions": asked,
        "top_questions": questions[:TOP],
        "verdicts": verdict_figures(dbs, period.start_ts, period.end_ts),
        "definitions": DEFINITIONS,
    }
