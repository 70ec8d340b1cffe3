"""The callback queue's Pain column (issue 14, item 6): where it hurts and for how long, from the
visitor's statement of pain (the pain_body_part and pain_duration slots), shown as "lower back,
3 weeks", in the JSON, the page and the exports; a console.db from before gets the columns on
start and its queue is rebuilt with them.

Its own assistant and tracker store (the conversations here would change the counts other
modules read from the shared recorded store, tests/console/conftest.py)."""
import csv
import io
import sqlite3

import pytest

from console import indexer, queries
from console.db import Databases, sqlite_url
from tests.console.conftest import (
    PASSWORD, console_cli, copy_tracker, start_console, unique_dir,
)
from tests.e2e.conftest import chat, new_sender, start_servers

BOOK = ["I want to book an appointment", "yes"]
# scenario -> what the visitor says; each ends in a submitted callback request.
SCENARIOS = {
    # a statement of pain, then the request
    "pain_first": ["my lower back has hurt for 3 weeks", *BOOK,
                   "Robin Ames", "314-555-0177", "weekday mornings", "yes"],
    # the statement in the middle of the request (the form asks for the name again)
    "pain_in_form": [*BOOK, "my neck has been killing me for 3 weeks",
                     "Kim Park", "314 555 0188", "after 4 pm", "yes"],
    # a body part without a duration
    "body_part_only": ["ugh my upper back is so tight", *BOOK,
                       "Lee Chan", "636-555-0190", "mornings", "yes"],
    # no statement of pain: a question naming a body part fills nothing
    "no_pain": ["can cryotherapy help my neck, it has been stiff for 3 weeks", *BOOK,
                "Sam Lee", "636-555-0133", "any time", "yes"],
}
# scenario -> (pain_body_part, pain_duration, the Pain column)
EXPECTED = {
    "pain_first": ("lower back", "3 weeks", "lower back, 3 weeks"),
    "pain_in_form": ("neck", "3 weeks", "neck, 3 weeks"),
    "body_part_only": ("upper back", "", "upper back"),
    "no_pain": ("", "", ""),
}


@pytest.fixture(scope="module")
def pain_store(tmp_path_factory):
    """A tracker store with the scenarios' conversations, written by the real servers; the
    servers are stopped once they are recorded."""
    servers = start_servers(tmp_path_factory, "console_pain_assistant")
    senders = {}
    try:
        for name, messages in SCENARIOS.items():
            senders[name] = new_sender()
            for message in messages:
                chat(servers, senders[name], message)
    finally:
        servers.stop()
    return servers.tracker_db, senders


@pytest.fixture(scope="module")
def console(pain_store, tmp_path_factory):
    tracker_db, senders = pain_store
    workdir = unique_dir(tmp_path_factory, "console_pain")
    running = start_console(workdir, copy_tracker(tracker_db, workdir / "tracker.db"))
    running.senders = senders
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


def by_scenario(console, rows):
    names = {sender: name for name, sender in console.senders.items()}
    return {names[row["sender_id"]]: row for row in rows}


def test_the_queue_shows_where_it_hurts_and_for_how_long(console, staff):
    found = staff.get(console.url + "/callbacks.json").json()
    assert (found["total"], found["requests"]) == (4, 4)
    rows = by_scenario(console, found["callbacks"])
    assert {name: (r["pain_body_part"], r["pain_duration"], r["pain"])
            for name, r in rows.items()} == EXPECTED
    assert (rows["pain_first"]["name"], rows["pain_first"]["preferred_time"]) == \
        ("Robin Ames", "weekday mornings")


def test_the_page_has_a_pain_column(console, staff):
    html = staff.get(console.url + "/callbacks").text
    assert ("<th>Preferred time</th><th>Pain</th><th>Question</th>") in html
    for time, pain in (("weekday mornings", "lower back, 3 weeks"), ("after 4 pm", "neck, 3 weeks"),
                       ("mornings", "upper back"), ("any time", "")):
        assert f"<td>{time}</td>\n    <td>{pain}</td>" in html


def test_the_exports_carry_it(console, staff):
    reply = staff.get(console.url + "/export/callbacks.csv", params={"status": "all"})
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert list(rows[0])[5:8] == ["preferred_time", "pain", "question"]
    assert sorted((r["preferred_time"], r["pain"]) for r in rows) == sorted(
        [("weekday mornings", "lower back, 3 weeks"), ("after 4 pm", "neck, 3 weeks"),
         ("mornings", "upper back"), ("any time", "")])
    exported = staff.get(console.url + "/export/callbacks.json", params={"status": "all"}).json()
    assert {name: (r["pain_body_part"], r["pain_duration"], r["pain"])
            for name, r in by_scenario(console, exported).items()} == EXPECTED


def test_a_console_db_from_before_gets_the_columns_and_rebuilds_the_queue(pain_store,
                                                                         tmp_path_factory):
    tracker_db, senders = pain_store
    workdir = unique_dir(tmp_path_factory, "console_pain_upgrade")
    tracker = copy_tracker(tracker_db, workdir / "tracker.db")
    console_cli(workdir, tracker, "create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    indexer.index_all(dbs)
    marked = next(c["id"] for c in queries.callback_queue(dbs)
                  if c["sender_id"] == senders["pain_first"])
    queries.save_callback_mark(dbs, marked, True, "booked", "kim")
    dbs.console.dispose()
    with sqlite3.connect(workdir / "console.db") as db:  # as the release before left it
        for column in ("pain_body_part", "pain_duration"):
            db.execute(f"ALTER TABLE console_callbacks DROP COLUMN {column}")
    running = start_console(workdir, tracker, user=None)
    try:
        staff = running.login("kim")
        rows = staff.get(running.url + "/callbacks.json?status=all").json()["callbacks"]
        names = {sender: name for name, sender in senders.items()}
        assert {names[r["sender_id"]]: r["pain"] for r in rows} == {
            name: pain for name, (_, _, pain) in EXPECTED.items()}
        called = [r for r in rows if r["called"]]
        assert [(r["id"], r["note"], r["pain"]) for r in called] == \
            [(marked, "booked", "lower back, 3 weeks")]
    finally:
        running.stop()
    with sqlite3.connect(workdir / "console.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(console_callbacks)")]
    assert columns[-2:] == ["pain_body_part", "pain_duration"]
    assert (workdir / "console.log").read_text().count(
        "console.db upgraded (added console_callbacks.pain_body_part, "
        "console_callbacks.pain_duration): the summary is rebuilt from the events") == 1
