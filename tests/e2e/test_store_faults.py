"""Issue 8: a tracker store that cannot be written never loses a message silently. While the
SQLite file is read-only or locked, each visitor is told (with the phone number), the turn is
kept (in memory, so the bot remembers it, and in the spool file, for a restart and for the
front desk's incident list), and it is written once the store recovers."""
import json
import sqlite3
import subprocess
import time

import pytest
import requests

from clinic.content import load_content
from tests.e2e.conftest import chat, new_sender, start_servers, texts

CONTENT = load_content()
NOT_SAVED = CONTENT.messages["not_saved"]


@pytest.fixture
def servers(tmp_path_factory):
    running = start_servers(tmp_path_factory, "store_faults")
    yield running
    subprocess.run(["chattr", "-i", str(running.tracker_db)], check=False)
    running.stop()


def stored_texts(servers, sender):
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' "
                          "ORDER BY id", (sender,)).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def spool(servers, query):
    with sqlite3.connect(servers.spool_db) as db:
        return db.execute(query).fetchall()


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_read_only_store_keeps_every_turn_and_says_so(servers):
    sender = new_sender()
    assert NOT_SAVED not in texts(chat(servers, sender, "hello"))
    subprocess.run(["chattr", "+i", str(servers.tracker_db)], check=True)  # even root can't write
    try:
        replies = [chat(servers, sender, text) for text in
                   ("i'd like to book", "yes please", "Robin")]
        for reply in replies:
            assert reply[-1]["text"] == NOT_SAVED
        # The bot still remembers: the callback form asked for the name and now the phone.
        assert replies[-1][0]["text"] == CONTENT.messages["ask_callback_phone"]
        health = requests.get(f"{servers.rasa_url}/webhooks/rest/", timeout=10).json()
        assert health == {"status": "degraded", "conversations_waiting_to_be_saved": 1}
        pending, = spool(servers, "SELECT COUNT(*) FROM pending_turns")
        assert pending == (3,)
        (incident,) = spool(servers, "SELECT ended_at, turns_kept, error FROM store_incidents")
        assert incident[0] is None and incident[1] == 3 and "readonly" in incident[2]
    finally:
        subprocess.run(["chattr", "-i", str(servers.tracker_db)], check=True)
    assert wait_for(lambda: len(stored_texts(servers, sender)) == 4)
    assert stored_texts(servers, sender) == ["hello", "i'd like to book", "yes please", "Robin"]
    assert wait_for(lambda: spool(servers, "SELECT COUNT(*) FROM pending_turns") == [(0,)])
    assert wait_for(lambda: spool(servers, "SELECT ended_at IS NOT NULL, turns_written "
                                           "FROM store_incidents") == [(1, 3)])
    health = requests.get(f"{servers.rasa_url}/webhooks/rest/", timeout=10).json()
    assert health == {"status": "ok", "conversations_waiting_to_be_saved": 0}
    # The conversation carries on where it was, and is stored normally again.
    reply = chat(servers, sender, "636 555 0147")
    assert NOT_SAVED not in texts(reply)
    assert reply[0]["text"] == CONTENT.messages["ask_callback_time"]
    assert stored_texts(servers, sender)[-1] == "636 555 0147"


def test_a_locked_store_delays_and_keeps_turns(servers):
    senders = [new_sender() for _ in range(3)]
    lock = sqlite3.connect(servers.tracker_db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        replies = [chat(servers, sender, "what is cryotherapy") for sender in senders]
    finally:
        lock.execute("COMMIT")
        lock.close()
    what_is = CONTENT.answers["ask_what_is_cryotherapy"].text
    for reply in replies:
        assert reply[0]["text"].startswith(what_is)
        assert reply[-1]["text"] == NOT_SAVED
    assert wait_for(lambda: all(stored_texts(servers, s) == ["what is cryotherapy"]
                                for s in senders))
