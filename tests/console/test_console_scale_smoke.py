"""Keeps the scale generator (bench/console_scale.py) working: a small store cloned from the
recorded conversations indexes to what was cloned. The 100k measurement itself runs by hand."""
import sqlite3

from bench import console_scale
from console import indexer, queries
from console.db import Databases, sqlite_url
from console.filters import parse_filters
from tests.console.conftest import unique_dir


def test_generated_store_indexes_to_what_was_cloned(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_scale")
    tracker = workdir / "tracker.db"
    events = console_scale.build(recorded.tracker_db, recorded.senders, tracker, conversations=300)
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    assert indexer.index_all(dbs) == events
    with sqlite3.connect(tracker) as db:
        submitted = db.execute("SELECT count(*) FROM events WHERE action_name = 'callback_status'"
                               " AND data LIKE '%submitted%'").fetchone()[0]
    found = queries.list_conversations(dbs, parse_filters({}))
    assert found["total"] == 300
    assert len(queries.callback_queue(dbs, "all")) == submitted
    assert queries.list_conversations(dbs, parse_filters({"callback": "1"}))["total"] == submitted
