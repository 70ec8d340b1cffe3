"""The callback queue merges open requests from the same phone number, over a copy of the
recorded tracker store: Jane asked for a callback twice (tests/console/conftest.py
"callback_earlier", then "callback", her number typed differently each time), Dana once."""
import csv
import io
import json
import sqlite3

import pytest

from console.filters import local_time
from console.queries import merge_by_phone, phone_key
from tests.console.conftest import SCRIPT, console_on_a_copy, csrf_of, foreign_scripts


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    running = console_on_a_copy(recorded, tmp_path_factory, "console_callbacks")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


def submitted(console, scenario):
    """(event id, time) of the scenario's callback request, from Rasa's events."""
    with sqlite3.connect(console.tracker_db) as db:
        rows = db.execute("SELECT id, timestamp, data FROM events WHERE sender_id = ? AND "
                          "type_name = 'slot' AND action_name = 'callback_status' ORDER BY id",
                          (console.senders[scenario],)).fetchall()
    found = [(i, t) for i, t, data in rows if json.loads(data)["value"] == "submitted"]
    assert len(found) == 1
    return found[0]


def queue(console, staff, status="open"):
    reply = staff.get(console.url + "/callbacks.json", params={"status": status})
    assert reply.status_code == 200
    return reply.json()


def mark(console, staff, callback_id, called, note="", status="open"):
    token = csrf_of(staff.get(console.url + "/callbacks").text)
    reply = staff.post(f"{console.url}/callbacks/{callback_id}/called", allow_redirects=False,
                       data={"csrf": token, "called": "1" if called else "", "note": note,
                             "status": status})
    assert reply.status_code == 303


def audit(console, actions=("callback_called", "callback_open")):
    with sqlite3.connect(console.workdir / "console.db") as db:
        return db.execute("SELECT actor, action, detail FROM console_audit WHERE action IN (?, ?)"
                          " ORDER BY id", actions).fetchall()


def test_digits_only_decide_which_requests_are_one_caller():
    assert phone_key("(314) 555-0142") == phone_key("314.555.0142") == "3145550142"
    rows = [{"id": i, "sender_id": f"s{i}", "requested_at": float(i), "phone": phone,
             "preferred_time": f"time {i}", "name": "", "question": "", "called": None,
             "note": None, "updated_by": None, "updated_at": None}
            for i, phone in enumerate(["(314) 555-0142", "(636) 555-0188", "314 555 0142",
                                       None, "314.555.0142", None])]
    merged = merge_by_phone(rows)
    assert [(e["ids"], e["requests"], e["preferred_time"]) for e in merged] == [
        ([0, 2, 4], 3, "time 4"), ([1], 1, "time 1"), ([3], 1, "time 3"), ([5], 1, "time 5")]


def test_open_requests_from_one_number_are_one_entry_with_the_latest_details(console, staff):
    earlier_id, earlier_at = submitted(console, "callback_earlier")
    latest_id, latest_at = submitted(console, "callback")
    dana_id, dana_at = submitted(console, "callback_other")
    found = queue(console, staff)
    assert (found["status"], found["total"], found["requests"]) == ("open", 2, 3)
    jane, dana = found["callbacks"]  # Jane has waited longest
    assert jane == {
        "id": latest_id, "ids": [earlier_id, latest_id], "requests": 2,
        "sender_id": console.senders["callback"],
        "sender_ids": [console.senders["callback_earlier"], console.senders["callback"]],
        "requested_at": latest_at, "first_requested_at": earlier_at,
        "name": f"Jane {SCRIPT} Doe", "phone": "(314) 555-0142",
        "preferred_time": "weekday mornings", "question": "I want to book an appointment",
        "pain_body_part": "", "pain_duration": "", "pain": "",  # she did not say
        "called": False, "note": "", "updated_by": None, "updated_at": None,
    }
    assert (dana["id"], dana["ids"], dana["requests"], dana["phone"], dana["preferred_time"],
            dana["question"]) == (dana_id, [dana_id], 1, "(636) 555-0188", "tuesday after lunch",
                                  "I want to book an appointment")
    assert dana["first_requested_at"] == dana["requested_at"] == dana_at


def test_the_page_shows_one_row_per_caller(console, staff):
    html = staff.get(console.url + "/callbacks").text
    assert html.count('action="/callbacks/') == 2
    assert "2 entries (3 requests; open requests from the same number are one entry)" in html
    earlier_at = submitted(console, "callback_earlier")[1]
    assert f"2 requests from this number since {local_time(earlier_at)}:" in html
    for scenario in ("callback_earlier", "callback", "callback_other"):
        assert f'href="/conversations/{console.senders[scenario]}"' in html
    assert "weekday mornings" in html and "friday after 3pm" not in html  # the latest time
    assert "(all 2 requests)" in html and html.count("(314) 555-0142") == 1
    assert "Jane &lt;script&gt;" in html and not foreign_scripts(html)


def export(console, staff, fmt, status):
    reply = staff.get(f"{console.url}/export/callbacks.{fmt}",
                      params={"status": status, "unmasked": "1"})
    assert reply.status_code == 200
    return reply.json() if fmt == "json" else list(csv.DictReader(io.StringIO(reply.text)))


def test_exports_keep_every_request(console, staff):
    for fmt in ("json", "csv"):
        rows = export(console, staff, fmt, "open")
        assert sorted((r["phone"], r["preferred_time"]) for r in rows) == [
            ("(314) 555-0142", "friday after 3pm"), ("(314) 555-0142", "weekday mornings"),
            ("(636) 555-0188", "tuesday after lunch")]


def test_marking_an_entry_marks_every_request_in_it(console, staff):
    earlier_id = submitted(console, "callback_earlier")[0]
    latest_id = submitted(console, "callback")[0]
    dana_id = submitted(console, "callback_other")[0]
    # Marked from a page shown before Jane's second request came in: only the first is marked,
    # the second stays in the queue.
    mark(console, staff, earlier_id, True, "called about the first request")
    assert [(e["ids"], e["requests"]) for e in queue(console, staff)["callbacks"]] == \
        [([dana_id], 1), ([latest_id], 1)]
    # Taken back from the "called" list: it joins her open entry again.
    mark(console, staff, earlier_id, False, "not reached", status="called")
    jane = queue(console, staff)["callbacks"][0]
    assert (jane["ids"], jane["note"]) == ([earlier_id, latest_id], "not reached")
    # A note on the entry, then the call: both requests, in one go.
    mark(console, staff, latest_id, False, "busy, try after 10")
    mark(console, staff, latest_id, True, "Booked for Tuesday")
    found = queue(console, staff)
    assert [e["ids"] for e in found["callbacks"]] == [[dana_id]]
    assert (found["total"], found["requests"]) == (1, 1)
    called = queue(console, staff, "called")
    assert (called["total"], called["requests"]) == (2, 2)
    assert sorted((e["id"], e["requests"], e["called"], e["note"], e["updated_by"])
                  for e in called["callbacks"]) == [
        (earlier_id, 1, True, "Booked for Tuesday", "staff"),
        (latest_id, 1, True, "Booked for Tuesday", "staff")]
    everything = queue(console, staff, "all")
    assert (everything["total"], everything["requests"]) == (3, 3)
    assert [e["id"] for e in everything["callbacks"]] == sorted(
        [earlier_id, latest_id, dana_id], reverse=True)
    assert len(export(console, staff, "json", "called")) == 2
    assert audit(console) == [
        ("staff", "callback_called", f"requests {earlier_id}"),
        ("staff", "callback_open", f"requests {earlier_id}"),
        ("staff", "callback_open", f"requests {earlier_id}, {latest_id}"),
        ("staff", "callback_called", f"requests {earlier_id}, {latest_id}")]
