"""Issue 8: long conversations keep working, private servers stay private, secrets stay off
command lines and out of other users' reach, and a visitor cannot abuse the public chat."""
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Set

import pytest
import requests

from clinic.content import load_content
from tests.e2e.conftest import chat, new_sender, post, start_servers, texts

CONTENT = load_content()
WHAT_IS = CONTENT.answers["ask_what_is_cryotherapy"].text


def listening_addresses(port: int) -> Set[str]:
    """Local addresses with a socket listening on `port` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address)
    return found


def tracker_events(servers, sender: str, kind: str):
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = ? "
                          "ORDER BY id", (sender, kind)).fetchall()
    return [json.loads(data) for (data,) in rows]


def test_a_long_conversation_keeps_working(servers):
    """150 turns: the conversation stored is several times the public chat's 64 kB request
    limit, and every answer is still right (Rasa posts the current session to the action server
    on every turn; the session limit, stores/session_rollover.py, keeps that post small)."""
    sender = new_sender()
    for turn in range(150):
        replies = chat(servers, sender, "what is cryotherapy")
        assert replies[0]["text"].startswith(WHAT_IS), (turn, replies)
    with sqlite3.connect(servers.tracker_db) as db:
        (session_bytes,) = db.execute("SELECT SUM(LENGTH(data)) FROM events WHERE sender_id = ?",
                                      (sender,)).fetchone()
    assert session_bytes > 4 * 64 * 1024
    assert len(tracker_events(servers, sender, "user")) == 150


def test_visitor_metadata_is_replaced_by_the_servers_own(servers):
    sender = new_sender()
    reply = post(servers, {"sender": sender, "message": "hello",
                           "metadata": {"name": "Jane", "blob": "x" * 30000}})
    assert reply.status_code == 200
    (user,) = tracker_events(servers, sender, "user")
    # Rasa adds its own model_id and assistant_id; nothing the visitor sent is kept.
    assert set(user["metadata"]) - {"model_id", "assistant_id"} == {"client"}
    assert len(user["metadata"]["client"]) == 16
    assert "Jane" not in json.dumps(user)


def test_the_action_server_is_private(servers):
    assert listening_addresses(servers.action_port) == {"0100007F"}  # 127.0.0.1 only
    call = {"next_action": "action_emergency", "tracker": {"sender_id": "x", "events": []},
            "domain": {}, "version": "3.6.2"}
    url = f"http://127.0.0.1:{servers.action_port}"
    assert requests.post(f"{url}/webhook", json=call, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert requests.post(f"{url}/webhook", json=call, headers=wrong, timeout=10).status_code == 401
    assert requests.get(f"{url}/actions", timeout=10).status_code == 401
    assert requests.get(f"{url}/health", timeout=10).json() == {"status": "ok"}


def test_secrets_are_not_on_any_command_line(servers):
    for process in (servers.rasa, servers.actions):
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
        assert servers.api_token not in command_line
        assert servers.action_token not in command_line
    rendered = (servers.workdir / "endpoints.yml").read_text()
    assert servers.action_token not in rendered and "${ACTION_SERVER_TOKEN}" in rendered


def test_databases_are_readable_by_their_owner_only(servers):
    chat(servers, new_sender(), "hello")
    for path in (servers.tracker_db, servers.spool_db):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


def test_another_site_cannot_post_messages(servers):
    sender = new_sender()
    body = json.dumps({"sender": sender, "message": "hello"})
    foreign = requests.post(servers.webhook, data=body, timeout=30, headers={
        "Content-Type": "text/plain", "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    plain = requests.post(servers.webhook, data=body, timeout=30,
                          headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert tracker_events(servers, sender, "user") == []


def test_a_payload_cannot_claim_an_emergency(servers):
    sender = new_sender()
    chat(servers, sender, "/emergency")
    actions = [e["name"] for e in tracker_events(servers, sender, "action")]
    assert "action_emergency" not in actions
    (user,) = tracker_events(servers, sender, "user")
    assert user["text"] == "emergency"  # read as words, not as the intent


def test_a_button_payload_still_works(servers):
    sender = new_sender()
    assert texts(chat(servers, sender, "/ask_cost")).startswith(CONTENT.answers["ask_cost"].text)


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    running = start_servers(
        tmp_path_factory, "limited",
        channel_settings={"messages_per_minute_per_sender": 5,
                          "messages_per_minute_per_address": 8})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def few_callbacks(tmp_path_factory):
    running = start_servers(
        tmp_path_factory, "few_callbacks",
        action_env={"CALLBACKS_PER_HOUR_PER_SENDER": "1", "CALLBACKS_PER_HOUR_PER_ADDRESS": "2",
                    "CALLBACKS_PER_DAY_PER_PHONE": "1"})
    yield running
    running.stop()


def test_messages_per_minute_are_limited_politely(limited):
    sender = new_sender()
    codes = [post(limited, {"sender": sender, "message": "hello"}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    refused = post(limited, {"sender": sender, "message": "hello"})
    assert refused.json()[0]["text"] == CONTENT.messages["rate_limited"]
    # Another conversation from the same address still gets through, up to the address's limit.
    other = new_sender()
    codes = [post(limited, {"sender": other, "message": "hi"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # 5 + 3: the address's 8 (refusals do not count)
    assert len(tracker_events(limited, sender, "user")) == 5


def file_callback(servers, sender: str, phone: str):
    chat(servers, sender, "/book_appointment")
    chat(servers, sender, "/affirm")
    chat(servers, sender, "Sam")
    chat(servers, sender, phone)
    chat(servers, sender, "mornings")
    return chat(servers, sender, "/affirm")


def callback_statuses(servers, sender: str):
    return [e["value"] for e in tracker_events(servers, sender, "slot")
            if e["name"] == "callback_status"]


def test_callback_requests_are_limited_per_conversation_address_and_number(few_callbacks):
    saved, limit = CONTENT.messages["callback_saved"], CONTENT.messages["callback_limit"]
    first = new_sender()
    assert texts(file_callback(few_callbacks, first, "636 555 0101")) == saved
    # One per conversation an hour.
    assert texts(file_callback(few_callbacks, first, "636 555 0102")) == limit
    assert callback_statuses(few_callbacks, first) == ["submitted", "over_limit"]
    # One per number a day, whichever conversation asks.
    assert texts(file_callback(few_callbacks, new_sender(), "(636) 555-0101")) == limit
    # Two per address an hour: a second number from a new conversation, then no more.
    assert texts(file_callback(few_callbacks, new_sender(), "636 555 0103")) == saved
    assert texts(file_callback(few_callbacks, new_sender(), "636 555 0104")) == limit
