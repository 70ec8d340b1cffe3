"""scripts/migrate_tracker.py: `make run`'s SQLite conversations into the cluster's PostgreSQL.

The source is a real SQLite tracker store written by a Rasa server (started as `make run` starts
one) during a short conversation that stops in the middle of the callback form; after the copy,
the cluster's Rasa replicas read it back and the visitor goes on where they stopped."""
import json
import os
import sqlite3
import subprocess

import pytest
import requests
from sqlalchemy import create_engine, text

from scripts.serve import BIN, LOAD_TEST, ROOT, Servers, free_port, server_env
from tests.loopback import visitor

BEFORE = ["does cryotherapy hurt?", "i want to book an appointment", "yes please",
          "Dana Whitfield"]
COLUMNS = "id, sender_id, type_name, timestamp, intent_name, action_name, data"


@pytest.fixture(scope="module")
def sqlite_store(cluster, tmp_path_factory):
    """A SQLite store with one conversation, in the middle of the callback form (name given,
    phone asked), written by a real Rasa server that is stopped again."""
    workdir = tmp_path_factory.mktemp("sqlite_source")
    servers = Servers(rasa_port=free_port(), action_port=cluster.action_port,
                      tracker_db=workdir / "tracker.db", workdir=workdir, log_dir=workdir,
                      api_token=cluster.api_token, action_token=cluster.action_token,
                      channel_settings=LOAD_TEST["channel_settings"])
    sender = "migrated" + os.urandom(12).hex()
    try:
        servers.start_rasa()
        for message in BEFORE:
            reply = requests.post(servers.webhook, json={"sender": sender, "message": message},
                                  timeout=60)
            assert reply.status_code == 200 and reply.json(), reply.text
    finally:
        servers.stop()
    return servers, sender


def migrate(cluster, store: Servers, database: str, *extra: str) -> subprocess.CompletedProcess:
    """The script as an operator runs it: the password in PGPASSWORD, not in the URL."""
    env = server_env({"PGPASSWORD": cluster.secret("tracker-db-password")})
    target = f"postgresql://clinic@127.0.0.1:{cluster.postgres_port}/{database}"
    return subprocess.run(
        [str(BIN / "python"), "-m", "scripts.migrate_tracker", "--from",
         f"sqlite:///{store.tracker_db}", "--to", target, "--spool", str(store.spool_db), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def sqlite_rows(store: Servers, sender=None):
    with sqlite3.connect(store.tracker_db) as db:
        if sender:
            return db.execute(f"SELECT {COLUMNS} FROM events WHERE sender_id = ? ORDER BY id",
                              (sender,)).fetchall()
        return db.execute(f"SELECT {COLUMNS} FROM events ORDER BY id").fetchall()


def test_a_fresh_postgresql_gets_every_event_with_its_id(cluster, sqlite_store):
    store, sender = sqlite_store
    url = cluster.create_database("migrated")
    dry = migrate(cluster, store, "migrated", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would copy 1 conversations")
    done = migrate(cluster, store, "migrated")
    assert done.returncode == 0, done.stderr
    rows = sqlite_rows(store)
    assert done.stdout.strip() == (
        f"Copied 1 conversations ({len(rows)} events) from sqlite:///{store.tracker_db} to "
        f"postgresql://clinic@127.0.0.1:{cluster.postgres_port}/migrated, keeping their ids.")
    assert cluster.secret("tracker-db-password") not in done.stdout + done.stderr
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as db:
            copied = [tuple(row) for row in db.execute(text(
                f"SELECT {COLUMNS} FROM events ORDER BY id"))]
            # Rasa's next event gets the next id, after the copied ones.
            next_id = db.execute(text(
                "SELECT nextval(pg_get_serial_sequence('events', 'id'))")).scalar()
    finally:
        engine.dispose()
    assert copied == rows
    assert next_id == rows[-1][0] + 1
    again = migrate(cluster, store, "migrated")
    assert again.returncode == 0, again.stderr
    assert "Copied 0 conversations (0 events)" in again.stdout
    assert "1 conversations already there were left alone" in again.stdout


def test_the_cluster_reads_a_migrated_conversation_and_goes_on(cluster, sqlite_store, database):
    store, sender = sqlite_store
    done = migrate(cluster, store, "clinic")  # the live store, with other conversations in it
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Copied 1 conversations")
    before = sqlite_rows(store, sender)
    # A replica's HTTP API returns the conversation exactly as the SQLite store held it.
    tracker = requests.get(f"{cluster.replica_url(1)}/conversations/{sender}/tracker",
                           params={"token": cluster.api_token}, timeout=30).json()
    assert [(e["event"], e["timestamp"]) for e in tracker["events"]] == [
        (json.loads(row[6])["event"], json.loads(row[6])["timestamp"]) for row in before]
    assert tracker["active_loop"].get("name") == "callback_form"
    # The visitor goes on through nginx: the phone number lands in the form they were in.
    reply = visitor("127.0.0.40").post(cluster.webhook, timeout=60,
                                       json={"sender": sender, "message": "636 555 0188"})
    assert reply.status_code == 200 and reply.json()
    with database.connect() as db:
        rows = db.execute(text("SELECT type_name, data FROM events WHERE sender_id = :s "
                               "ORDER BY id"), {"s": sender}).all()
    assert len(rows) > len(before)
    slots = {json.loads(data)["name"]: json.loads(data)["value"] for kind, data in rows
             if kind == "slot" and json.loads(data)["value"] is not None}
    assert slots["callback_name"] == "Dana Whitfield"
    assert slots["callback_phone"] == "(636) 555-0188"
    assert sum(kind == "session_started" for kind, _ in rows) == 1


def test_turns_still_in_the_spool_stop_the_migration(cluster, sqlite_store, tmp_path):
    from stores.spooling_sql import Pending, Spool

    store, sender = sqlite_store
    spool = Spool(tmp_path / "tracker-spool.db")
    spool.keep(sender, Pending([{"event": "user", "text": "hello"}], 0), "database is locked")
    waiting = Servers(rasa_port=0, action_port=0, tracker_db=store.tracker_db, workdir=tmp_path)
    done = migrate(cluster, waiting, "migrated")
    assert done.returncode != 0
    assert "1 turns are still waiting in the spool file" in done.stderr
