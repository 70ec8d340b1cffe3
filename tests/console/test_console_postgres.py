"""The same console code on PostgreSQL: opt-in, with CONSOLE_TEST_POSTGRES_URL set to an empty
scratch database (e.g. postgresql://postgres@127.0.0.1:55432/postgres). The recorded events are
copied into its `events` table (Rasa's schema), and every query must answer as on SQLite."""
import os
import sqlite3

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import DBAPIError

from datetime import timedelta

from console import home, indexer, queries, retention
from console.db import Databases, events, metadata, rasa_metadata, sqlite_url
from console.filters import AUTO_LABELS, parse_filters, parse_period, today
from tests.console.conftest import age, copy_tracker, unique_dir

URL = os.environ.get("CONSOLE_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="set CONSOLE_TEST_POSTGRES_URL to run")

FILTERS = [{}, {"callback": "1"}, {"handoff": "1"}, {"unanswered": "1"}, {"emergency": "0"},
           {"possible": "1"},
           {"intent": "emergency"}, {"reviewed": "yes"}, {"reviewed": "no"}, {"q": "pizza"},
           {"q": "100%_"}, {"q": "0177"}, {"from": "2000-01-01", "to": "2100-01-01"}]


def answers(dbs, sender):
    found = {}
    for args in FILTERS:
        rows = queries.list_conversations(dbs, parse_filters(args))["conversations"]
        found[str(args)] = [(r["sender_id"], r["callback"], r["handoff"], r["unanswered"],
                             r["emergency"], r["possible"], r["reviewed"], r["first_question"])
                            for r in rows]
    found["callbacks"] = [(c["sender_id"], c["name"], c["phone"], c["question"], c["called"])
                          for c in queries.callback_queue(dbs, "all")]
    for status in ("open", "called", "all"):
        entries = queries.callback_entries(dbs, status)
        found[f"entries {status}"] = (entries["total"], entries["requests"], [
            (e["sender_ids"], e["requests"], e["preferred_time"], e["called"], e["note"])
            for e in entries["callbacks"]])
    found["unanswered"] = sorted(queries.unanswered_messages(dbs, parse_filters({})))
    found["intents"] = queries.intents(dbs)
    found["labels"] = queries.label_names(dbs)
    for label in list(AUTO_LABELS) + ["follow up"]:
        found[f"label {label}"] = [(r["sender_id"], r["labels"]) for r in queries.list_conversations(
            dbs, parse_filters({"label": label}))["conversations"]]
    # the home page's figures: the last 30 days, and a period around the aged conversation
    day = today()
    for args in ({}, {"from": (day - timedelta(days=45)).isoformat(),
                      "to": (day - timedelta(days=35)).isoformat()}):
        found[f"home {args}"] = home.figures(dbs, parse_period(args), day)
    found["transcript"] = [(t["kind"], t["text"], t.get("triage_level"), t.get("triage_flags"))
                           for t in queries.transcript(dbs, sender)]
    return found


def test_postgresql_answers_as_sqlite(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_pg")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    age(tracker, recorded.senders["old"], 40)
    engine = create_engine(URL, future=True)
    metadata.drop_all(engine)
    rasa_metadata.drop_all(engine)
    rasa_metadata.create_all(engine)
    with sqlite3.connect(tracker) as db:
        rows = db.execute("SELECT id, sender_id, type_name, timestamp, intent_name, action_name,"
                          " data FROM events").fetchall()
    with engine.begin() as db:
        db.execute(events.insert(), [dict(zip(events.c.keys(), row)) for row in rows])
    lite = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    pg = Databases(URL, URL)
    sender = recorded.senders["callback"]
    for dbs in (lite, pg):
        indexer.index_all(dbs, limit=50)
        queries.save_review(dbs, recorded.senders["emergency"], True, "seen", "kim")
        jane = queries.callback_entries(dbs)["callbacks"][0]  # two requests, one entry
        assert queries.save_callback_mark(dbs, jane["id"], True, "done", "kim") == jane["ids"]
        assert queries.add_label(dbs, recorded.senders["handoff"], "follow up", "kim")
        assert not queries.add_label(dbs, recorded.senders["handoff"], "follow up", "kim")
    assert answers(pg, sender) == answers(lite, sender)
    for name in ("possible", "possible_then_emergency"):
        said = queries.transcript(pg, recorded.senders[name])
        assert said == queries.transcript(lite, recorded.senders[name])
        assert "possible" in [t.get("triage_level") for t in said]
    # A console database from before the `possible` column: upgraded on start, summary rebuilt.
    with engine.begin() as db:
        db.exec_driver_sql("DROP INDEX ix_console_conv_possible")
        db.exec_driver_sql("ALTER TABLE console_conversations DROP COLUMN possible")
    upgraded = Databases(URL, URL)
    with upgraded.console.connect() as db:
        assert db.exec_driver_sql("SELECT count(*) FROM console_conversations").scalar() == 0
    indexer.index_all(upgraded)
    assert answers(upgraded, sender) == answers(lite, sender)
    assert retention.delete_older_than(pg, 30, "test") == 1
    assert recorded.senders["old"] not in {
        r["sender_id"] for r in queries.list_conversations(pg, parse_filters({}))["conversations"]}
    # Notifications (console/notify.py): a new callback request after the baseline is recorded
    # once; the audit log refuses UPDATE, DELETE and TRUNCATE.
    with engine.begin() as db:
        top = db.execute(select(func.max(events.c.id))).scalar()
        dana = db.execute(select(events).where(
            events.c.sender_id == recorded.senders["callback_other"]).order_by(events.c.id)).all()
        db.execute(events.insert(), [dict(row._mapping, id=top + n, sender_id="replayed" + "x" * 20)
                                     for n, row in enumerate(dana, 1)])
    indexer.index_all(pg)
    indexer.rebuild(pg)
    with engine.connect() as db:
        kinds = db.exec_driver_sql("SELECT kind, event_id FROM console_notifications").all()
    assert [kind for kind, _ in kinds] == ["callback"] and kinds[0][1] > top
    queries.log(pg, "kim", "test", "append-only")
    for statement in ("UPDATE console_audit SET actor = 'x'", "DELETE FROM console_audit",
                      "TRUNCATE console_audit"):
        with pytest.raises(DBAPIError, match="console_audit is append-only"):
            with engine.begin() as db:
                db.exec_driver_sql(statement)
    Databases(URL, URL)  # the triggers are there already: a second start is fine
