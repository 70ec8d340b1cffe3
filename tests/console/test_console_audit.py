"""Accountable access (issue 12, part 5): every view of a transcript or of the callback queue, and
every export, in an append-only audit log that only admins read and export; admin accounts;
sessions that end after CONSOLE_IDLE_MINUTES without a request. Over a copy of the recorded
tracker store, with a real console process."""
import csv
import hashlib
import io
import re
import sqlite3
import time
from contextlib import closing

import pytest
import requests

from console.db import ROOT
from tests.console.conftest import PASSWORD, console_cli, console_on_a_copy, copy_tracker, \
    start_console, unique_dir


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    running = console_on_a_copy(recorded, tmp_path_factory, "console_audit")
    running.cli("create-user", "ada", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


@pytest.fixture(scope="module")
def admin(console):
    return console.login("ada")


def audit_rows(console, since=0):
    with closing(sqlite3.connect(console.workdir / "console.db")) as db:
        return db.execute("SELECT id, at, actor, action, detail FROM console_audit WHERE id > ? "
                          "ORDER BY id", (since,)).fetchall()


def last_id(console):
    rows = audit_rows(console)
    return rows[-1][0] if rows else 0


def test_every_view_of_a_transcript_or_the_queue_and_every_export_is_logged(console, staff):
    sender = console.senders["callback"]
    since = last_id(console)
    started = time.time()
    for path in (f"/conversations/{sender}", f"/conversations/{sender}.json",
                 f"/conversations/{sender}.csv", "/callbacks", "/callbacks.json?status=all",
                 "/export/conversations.csv?callback=1", "/export/conversations.json",
                 "/export/callbacks.csv", "/export/callbacks.json?status=called&unmasked=1",
                 "/unanswered.yml"):
        assert staff.get(console.url + path).status_code == 200, path
    # the list, search and the notification poll are not views of a transcript or the queue
    for path in ("/conversations", "/conversations.json?q=pizza", "/notifications.json",
                 "/unanswered"):
        assert staff.get(console.url + path).status_code == 200, path
    rows = audit_rows(console, since)
    assert all(started - 1 <= at <= time.time() + 1 for _, at, _, _, _ in rows)
    assert [(actor, action, detail) for _, _, actor, action, detail in rows] == [
        ("staff", "view_transcript", f"{sender} (html)"),
        ("staff", "export_transcript", f"{sender} (json)"),
        ("staff", "export_transcript", f"{sender} (csv)"),
        ("staff", "view_callbacks", "status=open (html)"),
        ("staff", "view_callbacks", "status=all (json)"),
        ("staff", "export_conversations", "csv, 3 rows, filters {'callback': '1'}"),
        ("staff", "export_conversations",
         f"json, {len(console.everyone)} rows, filters {{}}"),
        ("staff", "export_callbacks", "csv, status=open, 3 rows"),  # every request
        ("staff", "export_unmasked_callbacks", "json, status=called, 0 rows"),
        ("staff", rows[-1][3], rows[-1][4]),
    ]
    assert rows[-1][3] == "export_unanswered" and rows[-1][4].startswith("yml, ")


def test_only_admins_read_and_export_the_audit_log(console, staff, admin):
    for path in ("/audit", "/audit.json", "/audit.csv"):
        assert staff.get(console.url + path).status_code == 403, path
    assert 'href="/audit"' not in staff.get(console.url + "/conversations").text
    assert 'href="/audit"' in admin.get(console.url + "/conversations").text
    staff.get(f"{console.url}/conversations/{console.senders['emergency']}")
    page = admin.get(console.url + "/audit.json").json()
    assert page["total"] == len(audit_rows(console)) - 1  # (this view is logged after)
    newest = page["entries"][0]
    assert (newest["actor"], newest["action"], newest["detail"]) == (
        "staff", "view_transcript", f"{console.senders['emergency']} (html)")
    html = admin.get(console.url + "/audit").text
    assert "<h1>Audit log</h1>" in html and "view_transcript" in html
    export = admin.get(console.url + "/audit.csv")
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert list(rows[0]) == ["id", "time", "at", "actor", "action", "detail"]
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert ("ada", "view_audit") in {(r["actor"], r["action"]) for r in rows}
    assert audit_rows(console)[-1][2:4] == ("ada", "export_audit")


def test_grant_and_revoke_admin(console):
    console.cli("create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    kim = console.login("kim")
    assert kim.get(console.url + "/audit").status_code == 403
    granted = console.cli("grant-admin", "kim")
    assert "kim is an admin" in granted.stdout
    assert kim.get(console.url + "/audit").status_code == 200  # at once, same session
    assert "(already)" in console.cli("grant-admin", "kim").stdout
    console.cli("revoke-admin", "kim")
    assert kim.get(console.url + "/audit").status_code == 403
    unknown = console.cli("grant-admin", "nobody", check=False)
    assert unknown.returncode != 0 and "no user called 'nobody'" in unknown.stderr
    actions = [(action, detail) for _, _, _, action, detail in audit_rows(console)]
    assert ("grant-admin", "kim") in actions and ("revoke-admin", "kim") in actions
    assert ("create-user", "ada (admin)") in actions


def test_the_audit_log_is_append_only(console):
    count = len(audit_rows(console))
    with closing(sqlite3.connect(console.workdir / "console.db")) as db:
        for statement in ("UPDATE console_audit SET actor = 'someone else'",
                          "DELETE FROM console_audit", "DELETE FROM console_audit WHERE id = 1"):
            with pytest.raises(sqlite3.DatabaseError, match="console_audit is append-only"):
                db.execute(statement)
        db.rollback()
    assert len(audit_rows(console)) == count
    # and no code path changes it: the only statement on it is an insert (queries.log)
    for path in (ROOT / "console").glob("*.py"):
        code = path.read_text()
        assert not re.search(r"(update|delete)\(\s*audit\b|audit\.(update|delete)\(|"
                             r"(UPDATE|DELETE FROM)\s+console_audit", code, re.I) or \
            path.name == "db.py", path
    db_code = (ROOT / "console" / "db.py").read_text()
    assert not re.search(r"(update|delete)\(\s*audit\b|audit\.(update|delete)\(", db_code)


def set_last_seen(console, session, seconds_ago):
    digest = hashlib.sha256(session.cookies["console_session"].encode()).hexdigest()
    with closing(sqlite3.connect(console.workdir / "console.db")) as db:
        db.execute("UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?",
                   (time.time() - seconds_ago, digest))
        db.commit()
        return db, digest


def last_seen(console, session):
    digest = hashlib.sha256(session.cookies["console_session"].encode()).hexdigest()
    with closing(sqlite3.connect(console.workdir / "console.db")) as db:
        row = db.execute("SELECT last_seen FROM console_sessions WHERE token_hash = ?",
                         (digest,)).fetchone()
    return row[0] if row else None


def test_a_session_idle_for_15_minutes_is_logged_out(console):
    session = console.login()
    set_last_seen(console, session, 14 * 60)  # 14 minutes: still there, and now active again
    assert session.get(console.url + "/conversations.json").status_code == 200
    assert time.time() - last_seen(console, session) < 5
    set_last_seen(console, session, 15 * 60 + 1)
    reply = session.get(console.url + "/callbacks", allow_redirects=False)
    assert reply.status_code == 302
    assert reply.headers["location"] == "/login?next=/callbacks&idle=1"
    assert last_seen(console, session) is None  # deleted on the server
    assert session.get(console.url + "/conversations.json").status_code == 401
    assert "You were logged out after 15 minutes without activity" in \
        session.get(console.url + "/login?idle=1").text
    assert audit_rows(console)[-1][2:] == ("staff", "logout_idle",
                                           "after 15 minutes without a request")


def test_polling_for_notifications_does_not_keep_a_session_alive(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_idle")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    console = start_console(workdir, tracker, env={"CONSOLE_IDLE_MINUTES": "0.05"})  # 3 s
    try:
        session = console.login()
        for _ in range(4):  # a person working: each request keeps it alive
            time.sleep(1)
            assert session.get(console.url + "/conversations.json").status_code == 200
        deadline = time.monotonic() + 4
        polls = []
        while time.monotonic() < deadline:  # an open tab, nobody at it
            polls.append(session.get(console.url + "/notifications.json").status_code)
            time.sleep(0.4)
        assert polls[0] == 200 and polls[-1] == 401
        assert session.get(console.url + "/conversations.json").status_code == 401
        assert requests.get(console.url + "/login?idle=1").text.count(
            "You were logged out after 0.05 minutes without activity") == 1
    finally:
        console.stop()


def test_logout_is_logged(console):
    session = console.login("kim")
    page = session.get(console.url + "/conversations").text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    assert session.post(console.url + "/logout", data={"csrf": token},
                        allow_redirects=False).status_code == 303
    assert audit_rows(console)[-1][2:4] == ("kim", "logout")


def test_a_console_db_from_before_is_upgraded_without_losing_anything(recorded,
                                                                       tmp_path_factory):
    """A console.db from before: its sessions table without last_seen, no triggers on the audit
    log, no notification tables. Upgraded on start: the summary kept, the old sessions idle."""
    workdir = unique_dir(tmp_path_factory, "console_audit_upgrade")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    console_cli(workdir, tracker, "create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    console_cli(workdir, tracker, "index")
    with closing(sqlite3.connect(workdir / "console.db")) as db:
        for name in ("console_audit_no_update", "console_audit_no_delete"):
            db.execute(f"DROP TRIGGER {name}")
        for name in ("console_notifications", "console_notification_state",
                     "console_notifications_seen", "console_admins"):
            db.execute(f"DROP TABLE {name}")
        db.execute("ALTER TABLE console_sessions DROP COLUMN last_seen")
        db.execute("INSERT INTO console_sessions (token_hash, user_id, created_at, expires_at) "
                   "VALUES (?, 1, ?, ?)", ("0" * 64, time.time(), time.time() + 3600))
        db.commit()
        summary = db.execute("SELECT count(*) FROM console_conversations").fetchone()
    done = console_cli(workdir, tracker, "index")
    assert "console.db upgraded (added console_sessions.last_seen)\n" in done.stderr
    with closing(sqlite3.connect(workdir / "console.db")) as db:
        assert db.execute("SELECT count(*) FROM console_conversations").fetchone() == summary
        assert db.execute("SELECT last_seen FROM console_sessions").fetchall() == [(0,)]
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM console_audit")
        # nothing already in the store is notified
        assert db.execute("SELECT count(*) FROM console_notifications").fetchone() == (0,)
