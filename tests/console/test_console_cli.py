"""The console's commands: staff accounts, indexing, and retention (the one write to Rasa's
events), on a copy of the recorded tracker store with one conversation aged 40 days."""
import sqlite3
import subprocess

import pytest

from scripts.serve import ROOT

from tests.console.conftest import PASSWORD, age, console_cli, copy_tracker, start_console, \
    unique_dir


@pytest.fixture
def workdir(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_cli")
    copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    age(workdir / "tracker.db", recorded.senders["old"], 40)
    return workdir


def senders_in(tracker_db):
    with sqlite3.connect(tracker_db) as db:
        return {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events")}


def test_accounts_need_a_long_password_and_a_unique_name(workdir):
    tracker = workdir / "tracker.db"
    short = console_cli(workdir, tracker, "create-user", "kim", "--password-stdin",
                        stdin="short\n", check=False)
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    console_cli(workdir, tracker, "create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    again = console_cli(workdir, tracker, "create-user", "kim", "--password-stdin",
                        stdin=PASSWORD + "\n", check=False)
    assert again.returncode != 0 and "already" in again.stderr
    with sqlite3.connect(workdir / "console.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM console_users").fetchone()
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_retention_deletes_only_old_conversations_and_logs_it(recorded, workdir):
    tracker = workdir / "tracker.db"
    old = recorded.senders["old"]
    console_cli(workdir, tracker, "index")
    dry = console_cli(workdir, tracker, "retention", "--days", "30", "--dry-run")
    assert "1 conversations" in dry.stdout and old in senders_in(tracker)
    done = console_cli(workdir, tracker, "retention", "--days", "30", "--yes")
    assert "Deleted 1 conversations" in done.stdout
    assert "retention" in done.stderr  # logged
    assert senders_in(tracker) == set(recorded.senders.values()) - {old}
    with sqlite3.connect(workdir / "console.db") as db:
        assert db.execute("SELECT count(*) FROM console_conversations WHERE sender_id = ?",
                          (old,)).fetchone() == (0,)
        (detail,) = db.execute("SELECT detail FROM console_audit WHERE action = 'retention'"
                               ).fetchone()
    assert detail.startswith("deleted 1 conversations")
    console = start_console(workdir, tracker, user="kim")
    try:
        listed = console.login("kim").get(console.url + "/conversations.json").json()
        assert {r["sender_id"] for r in listed["conversations"]} == senders_in(tracker)
    finally:
        console.stop()


def test_retention_asks_before_deleting_and_refuses_bad_numbers(workdir):
    tracker = workdir / "tracker.db"
    before = senders_in(tracker)
    asked = console_cli(workdir, tracker, "retention", "--days", "30", stdin="no\n", check=False)
    assert asked.returncode != 0 and "Nothing deleted" in asked.stderr
    negative = console_cli(workdir, tracker, "retention", "--days", "-1", check=False)
    assert negative.returncode != 0
    assert senders_in(tracker) == before


def test_session_secret_is_generated_once_with_mode_600(tmp_path, monkeypatch):
    from console.auth import load_secret
    monkeypatch.delenv("CONSOLE_SECRET", raising=False)
    secret = load_secret(tmp_path / "console-secret")
    assert len(secret) >= 48 and load_secret(tmp_path / "console-secret") == secret
    assert (tmp_path / "console-secret").stat().st_mode & 0o777 == 0o600


def test_retention_deletes_whole_conversations_only(recorded, workdir):
    """A conversation goes whole, every event of it, once even its last event is older than the
    cutoff; one someone came back to (an old session, then a new one) is kept whole."""
    tracker = workdir / "tracker.db"
    returned = recorded.senders["handoff"]
    with sqlite3.connect(tracker) as db:  # its first session 40 days ago, its last turn today
        (last,) = db.execute("SELECT max(id) FROM events WHERE sender_id = ?",
                             (returned,)).fetchone()
        db.execute("UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ? AND id < ?",
                   (40 * 86400, returned, last))

    def events_by_sender():
        with sqlite3.connect(tracker) as db:
            return dict(db.execute("SELECT sender_id, count(*) FROM events GROUP BY sender_id"))

    before = events_by_sender()
    console_cli(workdir, tracker, "retention", "--days", "30", "--yes")
    after = events_by_sender()
    assert recorded.senders["old"] not in after  # all of it
    assert after == {s: n for s, n in before.items() if s != recorded.senders["old"]}
    assert after[returned] == before[returned]  # nothing of it


def test_make_staff_user_makes_an_admin_only_when_asked():
    """`make staff-user STAFF=kim [ADMIN=1]` (README) runs the command above, with --admin only
    for ADMIN=1 (`make -n` prints the commands without running them)."""
    def command(*variables):
        done = subprocess.run(["make", "-n", "--no-print-directory", "staff-user", "STAFF=kim",
                               *variables], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, check=True)
        return next(line.split() for line in done.stdout.splitlines() if "create-user" in line)

    assert command("ADMIN=1")[-3:] == ["create-user", '"kim"', "--admin"]
    assert command()[-2:] == ["create-user", '"kim"']
