"""The incremental indexer, in process, over a copy of the recorded tracker store."""
import sqlite3
from collections import namedtuple

import pytest

from console import indexer, queries
from console.db import Databases, sqlite_url
from console.filters import parse_filters
from tests.console.conftest import copy_tracker, unique_dir


@pytest.fixture
def tracker(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_indexer")
    return copy_tracker(recorded.tracker_db, workdir / "tracker.db")


def databases(tracker, name):
    return Databases(sqlite_url(tracker, read_only=True), sqlite_url(tracker.parent / name))


def summary(dbs):
    rows = queries.list_conversations(dbs, parse_filters({}), paginate=False)["conversations"]
    return rows, queries.callback_queue(dbs, "all"), queries.unanswered_messages(
        dbs, parse_filters({}))


def test_small_batches_give_the_same_summary_as_one_pass(tracker):
    whole, pieces = databases(tracker, "whole.db"), databases(tracker, "pieces.db")
    total = indexer.index_all(whole)
    with sqlite3.connect(tracker) as db:
        assert total == db.execute("SELECT count(*) FROM events").fetchone()[0]
    assert indexer.index_all(pieces, limit=7) == total
    assert summary(whole) == summary(pieces)
    assert indexer.index_once(whole) == 0  # nothing new: nothing done


def test_reindex_rebuilds_the_summary_and_keeps_staff_marks(recorded, tracker):
    dbs = databases(tracker, "console.db")
    indexer.index_all(dbs)
    sender = recorded.senders["emergency"]
    queries.save_review(dbs, sender, True, "seen", "kim")
    callback = queries.callback_queue(dbs)[0]
    queries.save_callback_mark(dbs, callback["id"], True, "done", "kim")
    before = summary(dbs)
    indexer.rebuild(dbs)
    assert summary(dbs) == before
    assert queries.conversation(dbs, sender)["note"] == "seen"


def test_the_tracker_store_is_opened_read_only(tracker):
    dbs = databases(tracker, "console.db")
    with pytest.raises(Exception, match="readonly"):
        with dbs.tracker.begin() as db:
            db.exec_driver_sql("DELETE FROM events")


def test_a_young_gap_in_event_ids_waits_for_the_missing_events():
    Row = namedtuple("Row", "id timestamp")
    rows = [Row(11, 100.0), Row(12, 100.0), Row(15, 100.0), Row(16, 100.0)]
    assert indexer.cut_at_recent_gap(rows, 10, now=110.0) == rows[:2]  # 13, 14 may still commit
    assert indexer.cut_at_recent_gap(rows, 10, now=1000.0) == rows  # old gap: rolled back/deleted


@pytest.mark.parametrize("text, shown", [
    ('/rate_answer{"answer":"ask_cost","verdict":"helpful"}', "[button] Helpful"),
    ('/rate_answer{"answer":"ask_cost","verdict":"not_helpful"}', "[button] Not helpful"),
    ("/ask_cost", "[button] What does it cost?"),
    ('/rate_answer{"answer":"ask_cost","verdict":"great"}',
     '/rate_answer{"answer":"ask_cost","verdict":"great"}'),  # not one the widget sends
    ("/rate_answer{broken", "/rate_answer{broken"),
])
def test_a_transcript_shows_the_button_the_visitor_pressed(text, shown):
    assert indexer.visible_text(text, {"/ask_cost": "What does it cost?"}) == shown
