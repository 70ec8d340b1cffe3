"""stores/spooling_sql.py's spool file: a kept turn comes back with how many of its events the
tracker store already had, and a spool file written by an earlier version still loads."""
import json
import sqlite3

from stores.spooling_sql import Pending, Spool

EVENTS = [{"event": "user", "text": "hello"}, {"event": "action", "name": "action_listen"}]


def test_the_newest_kept_turn_of_each_conversation_comes_back_with_its_count(tmp_path):
    spool = Spool(tmp_path / "spool.db")
    spool.keep("a" * 20, Pending(EVENTS[:1], 0), "database is locked")
    spool.keep("a" * 20, Pending(EVENTS, 0), "database is locked")
    spool.keep("b" * 20, Pending(EVENTS, 2), "database is locked")
    assert spool.latest_pending() == {"a" * 20: Pending(EVENTS, 0), "b" * 20: Pending(EVENTS, 2)}


def test_a_spool_file_of_an_earlier_version_still_loads(tmp_path):
    spool = Spool(tmp_path / "spool.db")
    with sqlite3.connect(spool.path) as db:  # the events alone, as before the count was kept
        db.execute("INSERT INTO pending_turns (sender_id, queued_at, events, error) "
                   "VALUES (?, 0, ?, 'old')", ("c" * 20, json.dumps(EVENTS)))
    assert spool.latest_pending() == {"c" * 20: Pending(EVENTS, None)}
