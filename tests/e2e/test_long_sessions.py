"""Issue 13: long conversations at a flat cost. After `session_max_messages` visitor messages
the tracker store starts a new session (stores/session_rollover.py); the visitor must not
notice, and the tracker store must keep every event. Here the limit is 3 so that it happens
often; `make bench ARGS=--long` measures the cost at 1,000 messages."""
import json
import sqlite3

import pytest
import yaml

from clinic.content import load_content
from clinic.names import is_rollover
from console import indexer, queries
from console.db import Databases, sqlite_url
from scripts.serve import ROOT
from tests.e2e.conftest import chat, new_sender, post, start_servers, texts

CONTENT = load_content()
LIMIT = 3


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["tracker_store"]["session_max_messages"] = LIMIT
    source = tmp_path_factory.mktemp("endpoints") / "endpoints.yml"
    source.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    running = start_servers(tmp_path_factory, "short-sessions", endpoints_source=source)
    yield running
    running.stop()


def stored(servers, sender):
    with sqlite3.connect(servers.tracker_db) as db:
        rows = db.execute("SELECT type_name, action_name, data FROM events WHERE sender_id = ? "
                          "ORDER BY id", (sender,)).fetchall()
    return [(kind, action, json.loads(data)) for kind, action, data in rows]


def sessions_started(events):
    return [is_rollover(data) for kind, _, data in events if kind == "session_started"]


def answer(intent):
    return CONTENT.answers[intent].text


def test_every_message_is_answered_and_every_event_kept(servers):
    sender = new_sender()
    questions = ["what is cryotherapy", "does it hurt", "how much does it cost"] * 3
    intents = ["ask_what_is_cryotherapy", "ask_does_it_hurt", "ask_cost"] * 3
    for question, intent in zip(questions, intents):
        assert chat(servers, sender, question)[0]["text"].startswith(answer(intent))
    events = stored(servers, sender)
    assert [data["text"] for kind, _, data in events if kind == "user"] == questions
    # Rasa's own session start first, then one after every third message (the last one too).
    assert sessions_started(events) == [False, True, True, True]


def test_a_reply_to_the_bots_last_question_still_follows_it(servers):
    """The callback offer is the last thing said before the new session: "yes" still takes it."""
    sender = new_sender()
    chat(servers, sender, "what is cryotherapy")
    chat(servers, sender, "does it hurt")
    offer = chat(servers, sender, "i need to talk to a human being")
    assert CONTENT.messages["offer_callback"] in texts(offer)
    assert sessions_started(stored(servers, sender)) == [False, True]
    assert texts(chat(servers, sender, "yes")) == CONTENT.messages["ask_callback_name"]


def test_what_the_bot_remembers_is_carried_over(servers):
    """"Tell me more" after the new session is about the answer given just before it."""
    sender = new_sender()
    chat(servers, sender, "hello")
    chat(servers, sender, "does it hurt")
    chat(servers, sender, "is cryotherapy fda approved")
    more = chat(servers, sender, "tell me more")
    assert more[0]["text"].startswith(CONTENT.answers["ask_fda_status"].more)


def test_the_callback_form_is_never_cut_in_two(servers):
    sender = new_sender()
    chat(servers, sender, "hi")
    steps = ["i want to book an appointment", "yes please", "Dana Whitfield", "636 555 0188",
             "tuesday after lunch", "yes"]
    for step in steps:
        reply = chat(servers, sender, step)
    assert texts(reply).startswith(CONTENT.messages["callback_saved"].split("\n")[0][:40])
    events = stored(servers, sender)
    loop_started = next(i for i, (kind, action, _) in enumerate(events)
                        if kind == "active_loop" and action == "callback_form")
    loop_ended = next(i for i, (kind, action, _) in enumerate(events)
                      if kind == "active_loop" and action is None and i > loop_started)
    assert not [kind for kind, _, _ in events[loop_started:loop_ended] if kind == "session_started"]
    # The new session came after the form, with nothing of the finished form to redo.
    assert sessions_started(events) == [False, True]
    statuses = [data.get("value") for kind, _, data in events
                if kind == "slot" and data.get("name") == "callback_status"]
    assert statuses[0] == "submitted"


def test_the_front_desk_sees_one_conversation_and_one_callback(servers, tmp_path):
    """The console skips the events that restate the conversation for the bot: the carried-over
    callback_status "submitted" is not a second request, and no "New session" marker splits
    the transcript."""
    sender = new_sender()
    steps = ["i want to book an appointment", "yes please", "Dana Whitfield", "636 555 0188",
             "tuesday after lunch", "yes", "thanks", "what is cryotherapy", "does it hurt"]
    for step in steps:
        chat(servers, sender, step)
    assert sessions_started(stored(servers, sender)) == [False, True, True]
    dbs = Databases(sqlite_url(servers.tracker_db, read_only=True),
                    sqlite_url(tmp_path / "console.db"))
    indexer.index_all(dbs)
    requests = [r for r in queries.callback_queue(dbs, "all") if r["sender_id"] == sender]
    assert len(requests) == 1
    turns = queries.transcript(dbs, sender)
    markers = [t["text"] for t in turns if t["kind"] == "event"]
    assert markers.count("New session") == 1, markers  # Rasa's own, at the start
    assert len(markers) == len(set(markers)), markers  # no badge marker repeated
    assert len([t for t in turns if t["kind"] == "visitor"]) == len(steps)
    assert queries.conversation(dbs, sender)["length"] == len(
        [t for t in turns if t["kind"] in ("visitor", "bot")])


def test_a_retry_of_the_message_before_a_new_session_is_still_answered_once(servers):
    """A replica that stored the turn and died before replying: the visitor's retry comes after
    the new session started, and must still find the message (channels/rest.py)."""
    sender = new_sender()
    for text in ("hello", "does it hurt"):
        chat(servers, sender, text)
    sent = {"sender": sender, "message": "what is cryotherapy", "message_id": new_sender()}
    first = post(servers, sent).json()
    assert sessions_started(stored(servers, sender)) == [False, True]
    assert post(servers, dict(sent, retry=True)).json() == first
    assert [data["text"] for kind, _, data in stored(servers, sender) if kind == "user"] == [
        "hello", "does it hurt", "what is cryotherapy"]
