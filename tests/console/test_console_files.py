"""Where the console writes (VAR_DIR) and with which permissions; and its health check, which
answers without a login."""
import os
import re
import sqlite3
import subprocess
from contextlib import closing

import pytest
import requests

from console.auth import load_secret
from console.db import ROOT, Databases, console_url, sqlite_url, tracker_url
from stores import spool_path
from scripts.serve import BIN, Servers, server_env
from tests.console.conftest import PASSWORD, Console, copy_tracker, start_console, unique_dir

SETTINGS = ("VAR_DIR", "TRACKER_DB", "TRACKER_DB_URL", "CONSOLE_DB_URL", "CONSOLE_SECRET",
            "TRACKER_SPOOL_DB", "CONSOLE_TRUSTED_PROXIES")


@pytest.fixture
def no_settings(monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def test_every_default_path_follows_var_dir(no_settings, tmp_path):
    assert console_url() == f"sqlite:///{ROOT / 'var' / 'console.db'}"
    state = (tmp_path / "state").resolve()
    no_settings.setenv("VAR_DIR", str(state))
    assert console_url() == f"sqlite:///{state / 'console.db'}"
    assert tracker_url() == f"sqlite:///file:{state / 'tracker.db'}?mode=ro&uri=true"
    assert spool_path() == state / "tracker-spool.db"
    secret = load_secret()
    assert (state / "console-secret").read_text().strip().encode() == secret
    assert mode(state / "console-secret") == 0o600
    # The explicit settings still win.
    no_settings.setenv("TRACKER_SPOOL_DB", str(tmp_path / "spool.db"))
    no_settings.setenv("CONSOLE_DB_URL", "sqlite:////elsewhere/console.db")
    assert spool_path() == tmp_path / "spool.db"
    assert console_url() == "sqlite:////elsewhere/console.db"


def test_a_console_given_only_var_dir_keeps_what_it_writes_there_private(
        recorded, tmp_path_factory, no_settings):
    workdir = unique_dir(tmp_path_factory, "console_var_dir")
    state = workdir / "state"  # not there yet
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    env = {"VAR_DIR": str(state), "TRACKER_DB": str(tracker)}
    made = subprocess.run([str(BIN / "python"), "-m", "console", "create-user", "staff",
                           "--password-stdin"], cwd=ROOT, env=server_env(env),
                          input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    servers = Servers(rasa_port=0, action_port=0, tracker_db=tracker, workdir=workdir,
                      log_dir=workdir, env=env)
    servers.start_console()
    try:
        staff = Console(servers, workdir, tracker).login()
        assert staff.get(f"http://127.0.0.1:{servers.console_port}/conversations.json"
                         ).json()["total"] > 0
        # (-wal and -shm exist while a connection is open: test_a_new_console_db_is_private...)
        names = set(os.listdir(state))
        assert {"console-secret", "console.db"} <= names <= {
            "console-secret", "console.db", "console.db-shm", "console.db-wal"}
        assert {name: mode(state / name) for name in names} == dict.fromkeys(names, 0o600)
        with closing(sqlite3.connect(state / "console.db")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert db.execute("SELECT username FROM console_users").fetchall() == [("staff",)]
    finally:
        servers.stop()
    assert not (state / "tracker-spool.db").exists()


def test_a_new_console_db_is_private_whatever_the_umask(tmp_path):
    path = tmp_path / "console.db"
    old = os.umask(0)
    try:
        dbs = Databases(sqlite_url(tmp_path / "tracker.db", read_only=True), sqlite_url(path))
        with dbs.console.begin() as db:  # a write: the -wal and -shm files appear
            db.exec_driver_sql("DELETE FROM console_sessions")
            assert {mode(p) for p in tmp_path.glob("console.db*")} == {0o600}
            assert len(list(tmp_path.glob("console.db*"))) == 3
    finally:
        os.umask(old)


def test_an_existing_console_db_is_made_private(tmp_path):
    path = tmp_path / "console.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE kept (x)")
        db.execute("INSERT INTO kept VALUES (?)", (1,))
        db.commit()
    os.chmod(path, 0o644)
    Databases(sqlite_url(tmp_path / "tracker.db", read_only=True), sqlite_url(path))
    assert mode(path) == 0o600
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT x FROM kept").fetchall() == [(1,)]  # nothing lost


# --- /health -------------------------------------------------------------------------------------

def health(console):
    reply = requests.get(console.url + "/health", allow_redirects=False)
    assert "set-cookie" not in reply.headers and reply.headers["cache-control"] == "no-store"
    return reply.status_code, reply.json()


def test_health_is_ok_while_both_databases_answer_and_needs_no_login(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_health")
    tracker = workdir / "tracker.db"  # missing at first: Rasa has not written anything yet
    console = start_console(workdir, tracker)
    try:
        assert health(console) == (503, {"status": "error"})
        copy_tracker(recorded.tracker_db, tracker)
        assert health(console) == (200, {"status": "ok"})
        # The console's own database broken: still an answer, not a crash.
        for path in workdir.glob("console.db*"):
            path.unlink()
        (workdir / "console.db").write_bytes(b"not a database at all " * 200)
        assert health(console) == (503, {"status": "error"})
    finally:
        console.stop()
    log = (workdir / "console.log").read_text()
    assert "health check: the tracker store does not answer (OperationalError)" in log
    assert "health check: the console database does not answer (DatabaseError)" in log


# --- Settings ------------------------------------------------------------------------------------

def test_every_setting_the_console_reads_is_documented_in_the_readme():
    names = set()
    for path in [*(ROOT / "console").glob("*.py"), ROOT / "stores" / "__init__.py"]:
        names |= set(re.findall(r"[\"']((?:CONSOLE|NOTIFY|TRACKER)_[A-Z_]+|VAR_DIR)[\"']",
                                path.read_text()))
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Front-desk console\n", 1)[1].split("\n## ", 1)[0]
    assert {"CONSOLE_IDLE_MINUTES", "NOTIFY_SMTP_HOST", "CONSOLE_PUBLIC_URL"} <= names
    assert sorted(n for n in names if f"`{n}" not in section) == []
