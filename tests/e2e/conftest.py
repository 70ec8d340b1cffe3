"""Real servers for the end-to-end tests: the action server and the Rasa server on free
loopback ports, with a fresh SQLite tracker store, started exactly as `make run` starts them."""
import secrets
import sqlite3
import json
from typing import Any, Dict, List

import pytest
import requests

from scripts.serve import LOAD_TEST, Servers, free_port


def start_servers(tmp_path_factory, name: str, **options: Any) -> Servers:
    """Servers as `make run` starts them, except that every test's messages come from one
    address, faster than any visitor types, with test phone numbers: the visitor limits are
    lifted unless the options say otherwise (tests/e2e/test_abuse_limits.py)."""
    options = {**LOAD_TEST, **options}
    workdir = tmp_path_factory.mktemp(name)
    servers = Servers(
        rasa_port=free_port(),
        action_port=free_port(),
        tracker_db=workdir / "tracker.db",
        workdir=workdir,
        log_dir=workdir,
        **options,
    )
    try:
        servers.start()
    except RuntimeError:
        servers.stop()
        raise
    return servers


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    running = start_servers(tmp_path_factory, "servers")
    yield running
    running.stop()


def new_sender() -> str:
    return secrets.token_hex(16)


def post(servers: Servers, payload: Any, **kwargs: Any) -> requests.Response:
    return requests.post(servers.webhook, json=payload, timeout=60, **kwargs)


def chat(servers: Servers, sender: str, text: str) -> List[Dict[str, Any]]:
    reply = post(servers, {"sender": sender, "message": text})
    assert reply.status_code == 200, reply.text
    return reply.json()


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def slot_values(servers: Servers, sender: str, slot: str) -> List[Any]:
    """What the tracker store (the real SQLite file) recorded for `slot`, oldest first."""
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'slot' ORDER BY id",
            (sender,),
        ).fetchall()
    events = [json.loads(data) for (data,) in rows]
    return [e["value"] for e in events if e.get("name") == slot]
