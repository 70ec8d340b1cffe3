"""Tracker store incidents shown to staff, from a real spool file written as the Rasa server
writes it (the schema below is the Rasa server's, verbatim), read by a running console."""
import os
import sqlite3
import time
from contextlib import closing

import pytest
import requests

from console import incidents
from console.filters import local_time
from tests.console.conftest import SCRIPT, foreign_scripts, start_console, unique_dir

SPOOL_DDL = """
CREATE TABLE IF NOT EXISTS pending_turns (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL, queued_at REAL NOT NULL, events TEXT NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS store_incidents (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL, error TEXT NOT NULL, turns_kept INTEGER NOT NULL DEFAULT 0, turns_written INTEGER NOT NULL DEFAULT 0);
"""
# What SQLAlchemy says when the store is locked: the lines after the first quote the statement
# and its parameters, i.e. what the visitor wrote. Only the first line may be shown.
ERROR = (f"(sqlite3.OperationalError) database is locked {SCRIPT}\n"
         "[SQL: INSERT INTO events (sender_id, type_name, data) VALUES (?, ?, ?)]\n"
         "[parameters: ('abc', 'user', '{\"text\": \"call me on 314 555 0199\"}')]")
SHOWN_ERROR = ("(sqlite3.OperationalError) database is locked "
               "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;")
NOW = time.time()
DAY = 86400
PAGES = ["/conversations", "/callbacks", "/unanswered", "/incidents", "/no/such/page"]


def banner(since, pending, written):
    waiting = "message is" if pending == 1 else "messages are"
    return (f"The conversation store could not be saved from {local_time(since)}: {pending} "
            f"visitor {waiting} waiting to be written; {written} written since.")


def write_spool(path, incidents_rows=(), pending_rows=(), wal=False):
    """A fresh spool file with these rows: (started_at, ended_at, error, kept, written) and
    (sender_id, queued_at, error)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(str(path) + suffix):
            os.unlink(str(path) + suffix)
    with closing(sqlite3.connect(path)) as db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SPOOL_DDL)
        db.executemany("INSERT INTO store_incidents (started_at, ended_at, error, turns_kept, "
                       "turns_written) VALUES (?, ?, ?, ?, ?)", incidents_rows)
        db.executemany("INSERT INTO pending_turns (sender_id, queued_at, events, error) "
                       "VALUES (?, ?, ?, ?)",
                       [(sender, at, '[{"event": "user", "text": "my number is 314 555 0199"}]',
                         error) for sender, at, error in pending_rows])
        db.commit()


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_incidents")
    running = start_console(workdir, recorded.tracker_db)  # the console only reads the store
    running.spool = workdir / "tracker-spool.db"  # TRACKER_SPOOL_DB (tests/console/conftest.py)
    running.senders = recorded.senders
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


def page(console, staff, path):
    return staff.get(console.url + path).text


def assert_no_banner(console, staff):
    for path in PAGES:
        assert 'class="store-alert"' not in page(console, staff, path), path


def test_no_spool_file_means_no_incident_and_the_console_never_creates_it(console, staff):
    assert not console.spool.exists()
    assert_no_banner(console, staff)
    assert staff.get(console.url + "/incidents.json").json() == {
        "days": 30, "pending_turns": 0, "oldest_pending_at": None, "incidents": []}
    assert "No incidents in the last 30 days." in page(console, staff, "/incidents")
    assert not console.spool.exists()


def test_an_open_incident_is_a_red_banner_on_every_page(console, staff):
    started = NOW - 3600
    write_spool(console.spool, [(started, None, ERROR, 3, 1)],
                [("visitor1", started + 60, ERROR), ("visitor2", started + 120, ERROR)])
    expected = banner(started, 2, 1)
    for path in PAGES + [f"/conversations/{console.senders['callback']}"]:
        html = page(console, staff, path)
        assert expected in html, path
        assert f"Error: {SHOWN_ERROR}</span>" in html
        assert not foreign_scripts(html) and "parameters" not in html and "0199" not in html
        assert 'role="alert"' in html and 'href="/incidents">Details</a>' in html
    # Not before logging in: the login page says nothing about it.
    assert 'class="store-alert"' not in requests.get(console.url + "/login").text


def test_the_incident_list_of_the_last_30_days(console, staff):
    write_spool(console.spool, [
        (NOW - 40 * DAY, NOW - 40 * DAY + 600, "(OperationalError) disk I/O error", 2, 2),
        (NOW - 35 * DAY, NOW - 10 * DAY, "(OperationalError) unable to open database file", 9, 9),
        (NOW - 2 * DAY, NOW - 2 * DAY + 90, ERROR, 1, 1),
        (NOW - 60, None, "(OperationalError) database is locked", 4, 0),
    ], [("visitor1", NOW - 50, "(OperationalError) database is locked")] * 4)
    found = staff.get(console.url + "/incidents.json").json()
    assert found["pending_turns"] == 4 and found["oldest_pending_at"] == NOW - 50
    rows = found["incidents"]
    assert [(r["id"], r["started_at"], r["ended_at"], r["open"], r["error"], r["turns_kept"],
             r["turns_written"]) for r in rows] == [
        (4, NOW - 60, None, True, "(OperationalError) database is locked", 4, 0),
        (3, NOW - 2 * DAY, NOW - 2 * DAY + 90, False,
         f"(sqlite3.OperationalError) database is locked {SCRIPT}", 1, 1),
        (2, NOW - 35 * DAY, NOW - 10 * DAY, False,
         "(OperationalError) unable to open database file", 9, 9)]
    assert rows[1]["minutes"] == 1.5 and rows[2]["minutes"] == 25 * DAY / 60
    html = page(console, staff, "/incidents")
    assert html.count("<tr>") == 4  # the heading and three incidents
    assert "still going on" in html and local_time(NOW - 35 * DAY) in html
    assert local_time(NOW - 40 * DAY) not in html
    assert "4 visitor messages are waiting to be written, the oldest from" in html
    assert not foreign_scripts(html) and "0199" not in html
    assert banner(NOW - 60, 4, 0) in html


def test_turns_still_waiting_after_the_store_is_back_keep_the_banner(console, staff):
    started, ended = NOW - 7200, NOW - 600
    write_spool(console.spool, [(started, ended, ERROR, 5, 4)],
                [("visitor1", started + 30, ERROR)])
    assert banner(started + 30, 1, 4) in page(console, staff, "/conversations")


def test_all_written_and_the_incident_over_means_no_banner(console, staff):
    write_spool(console.spool, [(NOW - 7200, NOW - 600, ERROR, 5, 5)], wal=True)
    assert_no_banner(console, staff)
    rows = staff.get(console.url + "/incidents.json").json()["incidents"]
    assert [(r["open"], r["turns_kept"], r["turns_written"]) for r in rows] == [(False, 5, 5)]


def test_the_spool_is_read_while_the_assistant_writes_it(console, staff):
    write_spool(console.spool, wal=True)
    with closing(sqlite3.connect(console.spool)) as writer:  # the Rasa server, still running
        assert_no_banner(console, staff)
        writer.execute("INSERT INTO store_incidents (started_at, error, turns_kept) "
                       "VALUES (?, ?, ?)", (NOW - 30, "(OperationalError) database is locked", 1))
        writer.execute("INSERT INTO pending_turns (sender_id, queued_at, events, error) "
                       "VALUES (?, ?, ?, ?)", ("visitor", NOW - 29, "[]", "locked"))
        writer.commit()
        assert banner(NOW - 30, 1, 0) in page(console, staff, "/callbacks")
        writer.execute("DELETE FROM pending_turns")
        writer.execute("UPDATE store_incidents SET ended_at = ?, turns_written = 1", (NOW,))
        writer.commit()
        assert_no_banner(console, staff)


def test_a_spool_without_tables_yet_is_no_incident(console, staff):
    write_spool(console.spool)
    with closing(sqlite3.connect(console.spool)) as db:
        db.executescript("DROP TABLE pending_turns; DROP TABLE store_incidents;")
    assert_no_banner(console, staff)


def test_an_unreadable_spool_says_so(console, staff):
    write_spool(console.spool)
    console.spool.write_bytes(b"this is not a SQLite database" * 100)
    html = page(console, staff, "/conversations")
    assert "The record of conversation store incidents could not be read" in html
    reply = staff.get(console.url + "/incidents.json")
    assert reply.status_code == 503
    assert reply.json() == {"error": "the incident record could not be read"}
    console.spool.unlink()
    assert_no_banner(console, staff)


def test_the_console_opens_the_spool_read_only(tmp_path):
    spool = tmp_path / "tracker-spool.db"
    assert incidents.alert(spool) is None and not spool.exists()
    write_spool(spool, [(NOW, None, ERROR, 1, 0)])
    connection = incidents._open(spool)
    with closing(connection), pytest.raises(sqlite3.OperationalError, match="readonly"):
        connection.execute("DELETE FROM store_incidents")
    assert incidents.first_line("\n\n  first\nsecond") == "first"
    assert incidents.first_line("x" * 400) == "x" * 299 + "\u2026"
    dot = "\u2022"
    assert incidents.first_line("failed for 314-555-0199") == \
        f"failed for {dot * 3}-{dot * 3}-{dot * 2}99"
