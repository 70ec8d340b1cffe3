"""The same console code on PostgreSQL. The tests start a scratch PostgreSQL of their own
(scripts/cluster.Postgres on a free loopback port, tests/console/conftest.py scratch_postgres),
or use the empty scratch database CONSOLE_TEST_POSTGRES_URL names (e.g.
postgresql://postgres@127.0.0.1:55432/postgres); they are skipped only when PostgreSQL's binaries
are missing (scripts/system_packages.sh installs them). The recorded events are copied into its
`events` table (Rasa's schema), and every query must answer as on SQLite; search has its trigram
index (console/db.py create_trigram_index), and the planner reads it."""
import logging
import os
import sqlite3
import threading

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import DBAPIError

from datetime import timedelta

from console import home, indexer, queries, retention
from console.db import (
    TRIGRAM_INDEX, Databases, conversations, create_trigram_index, events, has_trigram_index,
    messages, metadata, rasa_metadata, sqlite_url,
)
from console.filters import AUTO_LABELS, parse_filters, parse_period, today
from tests.console.conftest import age, copy_tracker, postgres_missing, scratch_postgres, unique_dir

GIVEN = os.environ.get("CONSOLE_TEST_POSTGRES_URL")


@pytest.fixture(scope="module")
def scratch():
    """The scratch server (None when CONSOLE_TEST_POSTGRES_URL names a database instead)."""
    if GIVEN:
        yield None
        return
    missing = postgres_missing()
    if missing:
        pytest.skip(f"{missing}; or set CONSOLE_TEST_POSTGRES_URL to an empty scratch database")
    with scratch_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def pg_url(scratch) -> str:
    """An empty database, owned by a role that is not a superuser (as the cluster's)."""
    return GIVEN or scratch.database("console")


def needs_scratch(scratch) -> None:
    if scratch is None:
        pytest.skip("makes databases and roles of its own: needs the scratch server "
                    "(CONSOLE_TEST_POSTGRES_URL unset)")


FILTERS = [{}, {"callback": "1"}, {"handoff": "1"}, {"unanswered": "1"}, {"emergency": "0"},
           {"possible": "1"},
           {"intent": "emergency"}, {"reviewed": "yes"}, {"reviewed": "no"}, {"q": "pizza"},
           {"q": "100%_"}, {"q": "0177"}, {"q": "pizza place"}, {"q": "cryo"},
           {"q": "PIZZA"}, {"from": "2000-01-01", "to": "2100-01-01"}]
SEARCHES = ["pizza", "pizza place", "cryotherapy", "0177", "100%_"]


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


def search_plan(dbs, q: str) -> str:
    """EXPLAIN of the list's search, as the console builds it (queries.conditions), with
    sequential and plain index scans off in the same transaction: the test's tables are too
    small for the planner to prefer an index, and without these it reads a few rows through any
    index and filters them. Left with bitmap scans, it can answer the LIKEs only with the
    trigram index (GIN); without it, it reads every row (a disabled scan) and filters."""
    query = select(conversations.c.sender_id).where(
        *queries.conditions(dbs, parse_filters({"q": q})))
    compiled = query.compile(dialect=dbs.console.dialect)
    with dbs.console.begin() as db:
        for scan in ("seqscan", "indexscan", "indexonlyscan"):
            db.exec_driver_sql(f"SET LOCAL enable_{scan} = off")
        return "\n".join(row[0] for row in db.exec_driver_sql("EXPLAIN " + compiled.string,
                                                               compiled.params))


def trigram_indexdef(engine) -> str:
    with engine.connect() as db:
        return db.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = %(name)s",
                                  {"name": TRIGRAM_INDEX}).scalar() or ""


def test_postgresql_answers_as_sqlite(recorded, tmp_path_factory, pg_url):
    workdir = unique_dir(tmp_path_factory, "console_pg")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    age(tracker, recorded.senders["old"], 40)
    engine = create_engine(pg_url, future=True)
    metadata.drop_all(engine)
    rasa_metadata.drop_all(engine)
    rasa_metadata.create_all(engine)
    with sqlite3.connect(tracker) as db:
        rows = db.execute("SELECT id, sender_id, type_name, timestamp, intent_name, action_name,"
                          " data FROM events").fetchall()
    with engine.begin() as db:
        db.execute(events.insert(), [dict(zip(events.c.keys(), row)) for row in rows])
    lite = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    pg = Databases(pg_url, pg_url)
    sender = recorded.senders["callback"]
    for dbs in (lite, pg):
        indexer.index_all(dbs, limit=50)
        queries.save_review(dbs, recorded.senders["emergency"], True, "seen", "kim")
        jane = queries.callback_entries(dbs)["callbacks"][0]  # two requests, one entry
        assert queries.save_callback_mark(dbs, jane["id"], True, "done", "kim") == jane["ids"]
        assert queries.add_label(dbs, recorded.senders["handoff"], "follow up", "kim")
        assert not queries.add_label(dbs, recorded.senders["handoff"], "follow up", "kim")
    assert answers(pg, sender) == answers(lite, sender)
    # Search's trigram index is there once the console has started, on the expression the
    # search reads, and the planner uses it for every search (one word, two, digits, wildcards).
    assert has_trigram_index(pg.console) and not has_trigram_index(lite.console)
    assert "USING gin (lower(text) gin_trgm_ops)" in trigram_indexdef(engine)
    for q in SEARCHES:
        plan = search_plan(pg, q)
        assert f"Bitmap Index Scan on {TRIGRAM_INDEX}" in plan, plan
        assert "Seq Scan on console_messages" not in plan, plan
    for name in ("possible", "possible_then_emergency"):
        said = queries.transcript(pg, recorded.senders[name])
        assert said == queries.transcript(lite, recorded.senders[name])
        assert "possible" in [t.get("triage_level") for t in said]
    # A console database from before the `possible` column: upgraded on start, summary rebuilt.
    with engine.begin() as db:
        db.exec_driver_sql("DROP INDEX ix_console_conv_possible")
        db.exec_driver_sql("ALTER TABLE console_conversations DROP COLUMN possible")
    upgraded = Databases(pg_url, pg_url)
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
    Databases(pg_url, pg_url)  # the triggers are there already: a second start is fine


def one_conversation(dbs, sender: str, text: str) -> None:
    """A conversation with one visitor message, straight into the console's tables."""
    with dbs.console.begin() as db:
        db.execute(conversations.insert().values(sender_id=sender, started=1.0, last_at=1.0,
                                                 length=1, first_question=text))
        db.execute(messages.insert().values(event_id=1, sender_id=sender, timestamp=1.0,
                                            text=text))


def test_without_the_right_to_create_pg_trgm_search_scans(scratch, caplog):
    """A role that may create tables but not extensions: the console starts, says what a DBA must
    run, and search works (a scan); once the DBA has run it, the next start adds the index."""
    needs_scratch(scratch)
    scratch.database("noext", owner="console")
    scratch.role("clerk")  # no CREATE on the database, so no extension; CREATE on its schema
    admin = scratch.admin_connection("noext")
    with admin.cursor() as cursor:
        cursor.execute("GRANT CREATE ON SCHEMA public TO clerk")
    url = scratch.url("clerk", "noext")
    with caplog.at_level(logging.WARNING, logger="console"):
        dbs = Databases(url, url)
    said = [r.getMessage() for r in caplog.records if "pg_trgm" in r.getMessage()]
    assert len(said) == 1 and "permission denied to create extension" in said[0], said
    assert "A DBA must run, in database noext" in said[0]
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm;" in said[0]
    assert not has_trigram_index(dbs.console)
    one_conversation(dbs, "someone", "Can you recommend a PIZZA place?")
    assert [r["sender_id"] for r in queries.list_conversations(
        dbs, parse_filters({"q": "pizza place"}))["conversations"]] == ["someone"]
    plan = search_plan(dbs, "pizza")  # every message read and filtered
    assert "Filter: (lower(text) ~~ '%pizza%'::text)" in plan and TRIGRAM_INDEX not in plan, plan
    dbs.console.dispose()
    with admin.cursor() as cursor:  # what the warning says a DBA must run
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    admin.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="console"):
        again = Databases(url, url)
    assert has_trigram_index(again.console)
    assert [f"index {TRIGRAM_INDEX} added" in r.getMessage() for r in caplog.records] == [True]
    assert f"Bitmap Index Scan on {TRIGRAM_INDEX}" in search_plan(again, "pizza")
    assert queries.list_conversations(again, parse_filters({"q": "pizza"}))["total"] == 1
    again.console.dispose()


def test_consoles_starting_at_once_make_the_index_once(scratch, caplog):
    """Several consoles starting at the same moment on a database without pg_trgm: each
    create_trigram_index returns True, none fails, whichever CREATE came second, and one of them
    says it made the extension, one the index."""
    needs_scratch(scratch)
    url = scratch.database("together", owner="console")
    engine = create_engine(url, future=True)
    metadata.create_all(engine)
    for _ in range(3):
        with engine.begin() as db:
            db.exec_driver_sql("DROP EXTENSION IF EXISTS pg_trgm CASCADE")  # and the index
        engines = [create_engine(url, future=True) for _ in range(4)]
        start = threading.Barrier(len(engines))
        results, failures = [], []

        def begin(own):
            try:
                start.wait()
                results.append(create_trigram_index(own))
            except Exception as failure:  # noqa: BLE001 (reported below)
                failures.append(failure)

        threads = [threading.Thread(target=begin, args=(own,)) for own in engines]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="console"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert failures == [] and results == [True] * len(engines)
        said = sorted(r.getMessage().split(" (")[0] for r in caplog.records)
        assert said == ["console database: extension pg_trgm created",
                        f"console database: index {TRIGRAM_INDEX} added"], said
        assert has_trigram_index(engine)
        for own in engines:
            own.dispose()
    engine.dispose()


def test_pg_trgm_in_a_schema_of_its_own(scratch, caplog):
    """pg_trgm installed by a DBA in a schema off the search path: the index names its operator
    class with the schema; while the console's role may not use that schema, a warning and a
    scan (search works); once it may, the next start adds the index, and the planner reads it."""
    needs_scratch(scratch)
    url = scratch.database("elsewhere", owner="console")
    admin = scratch.admin_connection("elsewhere")
    with admin.cursor() as cursor:
        cursor.execute("CREATE SCHEMA ext")
        cursor.execute("CREATE EXTENSION pg_trgm SCHEMA ext")
    with caplog.at_level(logging.WARNING, logger="console"):
        dbs = Databases(url, url)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "permission denied for schema ext" in said and "ext.gin_trgm_ops" in said, said
    assert not has_trigram_index(dbs.console)
    one_conversation(dbs, "someone", "pizza place?")
    assert queries.list_conversations(dbs, parse_filters({"q": "pizza"}))["total"] == 1
    dbs.console.dispose()
    with admin.cursor() as cursor:
        cursor.execute("GRANT USAGE ON SCHEMA ext TO console")
    admin.close()
    again = Databases(url, url)
    assert "USING gin (lower(text) ext.gin_trgm_ops)" in trigram_indexdef(again.console)
    assert f"Bitmap Index Scan on {TRIGRAM_INDEX}" in search_plan(again, "pizza")
    assert queries.list_conversations(again, parse_filters({"q": "pizza"}))["total"] == 1
    again.console.dispose()
