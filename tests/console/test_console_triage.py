"""Safety triage in the console (issue 9): the "Possible emergency (safety line shown)" badge,
its filter and exports, each visitor message's triage level and flags in the transcript, old
conversations recorded before triage, and a console.db from before the `possible` column.

Everything is checked against what the real assistant recorded (tests/console/conftest.py
SCENARIOS): each visitor event's parse_data.triage, read from the tracker store itself."""
import csv
import io
import json
import sqlite3
import subprocess

import pytest
from playwright.sync_api import expect

from console import indexer, queries
from console.db import Databases, sqlite_url
from console.filters import parse_filters
from scripts.serve import BIN, ROOT, server_env
from tests.browser.conftest import serious_violations
from tests.console.conftest import (
    PASSWORD, console_cli, console_env, console_on_a_copy, copy_tracker, start_console, unique_dir,
)

ARTIFACTS = ROOT / "tests" / "artifacts" / "console"
POSSIBLE_LABEL = "Possible emergency (safety line shown)"
# console_conversations as the release before the `possible` column created it.
COLUMNS_BEFORE = ["sender_id", "started", "last_at", "length", "first_question", "callback",
                  "handoff", "unanswered", "emergency", "fold_state"]


def visitor_triage(tracker_db, sender):
    """(text, triage) of each visitor message of one conversation, from Rasa's events."""
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' "
                          "ORDER BY id", (sender,)).fetchall()
    said = [json.loads(data) for (data,) in rows]
    return [(d["text"], (d.get("parse_data") or {}).get("triage")) for d in said]


def with_level(tracker_db, level):
    """Conversations with a visitor message triaged `level`, from Rasa's events."""
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT sender_id, data FROM events WHERE type_name = 'user'").fetchall()
    return {sender for sender, data in rows
            if ((json.loads(data).get("parse_data") or {}).get("triage") or {}).get("level")
            == level}


def bot_kinds_after(tracker_db, sender):
    """The `custom` kinds of the bot messages of one conversation, in order."""
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'bot' "
                          "ORDER BY id", (sender,)).fetchall()
    return [((json.loads(d).get("data") or {}).get("custom") or {}).get("kind") for (d,) in rows]


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    running = console_on_a_copy(recorded, tmp_path_factory, "console_triage")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


def listing(console, staff, **args):
    reply = staff.get(console.url + "/conversations.json", params=args)
    assert reply.status_code == 200, reply.text
    return {row["sender_id"]: row for row in reply.json()["conversations"]}


def test_the_recorded_conversations_were_triaged_as_the_scenarios_say(console):
    """The data the other tests rely on: the assistant's own triage of each scenario."""
    possible = visitor_triage(console.tracker_db, console.senders["possible"])
    assert possible == [("does cryotherapy help if I have a fever?",
                         {"level": "possible", "flags": ["fever"], "language": "en"})]
    both = visitor_triage(console.tracker_db, console.senders["possible_then_emergency"])
    assert [t["level"] for _, t in both] == ["possible", "emergency"]
    assert both[0][1]["flags"] == ["cancer_history"] and both[1][1]["flags"] == ["bladder_bowel"]
    emergency = visitor_triage(console.tracker_db, console.senders["emergency"])
    assert [t["level"] for _, t in emergency] == ["emergency"]
    # "safety line shown" is what the assistant did: a bot message of kind "safety" first.
    assert bot_kinds_after(console.tracker_db, console.senders["possible"])[0] == "safety"
    assert "emergency" in bot_kinds_after(console.tracker_db, console.senders["emergency"])


def test_possible_badge_is_computed_from_the_visitor_messages_triage(console, staff):
    rows = listing(console, staff)
    assert set(rows) == console.everyone
    having = with_level(console.tracker_db, "possible")
    assert {s for s, row in rows.items() if row["possible"] is True} == having
    assert {s for s, row in rows.items() if row["possible"] is False} == console.everyone - having
    assert {console.senders["possible"], console.senders["possible_then_emergency"]} <= having
    possible = rows[console.senders["possible"]]
    assert (possible["possible"], possible["emergency"]) == (True, False)
    both = rows[console.senders["possible_then_emergency"]]
    assert (both["possible"], both["emergency"]) == (True, True)  # a conversation can have both
    emergency = rows[console.senders["emergency"]]
    assert (emergency["possible"], emergency["emergency"]) == (False, True)


def test_possible_filter_alone_and_with_the_emergency_filter(console, staff):
    having = with_level(console.tracker_db, "possible")
    assert set(listing(console, staff, possible="1")) == having
    assert set(listing(console, staff, possible="0")) == console.everyone - having
    emergencies = set(listing(console, staff, emergency="1"))
    assert set(listing(console, staff, possible="1", emergency="1")) == having & emergencies
    assert console.senders["possible_then_emergency"] in having & emergencies
    assert staff.get(console.url + "/conversations.json?possible=yes").status_code == 400


def test_list_page_has_the_filter_and_a_distinct_badge(console, staff):
    html = staff.get(console.url + "/conversations", params={"possible": "1"}).text
    assert f'<input type="checkbox" name="possible" value="1" checked> {POSSIBLE_LABEL}' in html
    assert f'<span class="badge badge-possible">{POSSIBLE_LABEL}</span>' in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == len(with_level(console.tracker_db, "possible"))
    # the conversation with both carries both badges, each with its own class and label
    both = [r for r in rows if console.senders["possible_then_emergency"] in r]
    assert len(both) == 1
    assert '<span class="badge badge-emergency">Emergency guidance given</span>' in both[0]
    assert f'<span class="badge badge-possible">{POSSIBLE_LABEL}</span>' in both[0]
    assert ".badge-possible {" in html  # its own colour, not the emergency one


def test_exports_carry_the_possible_field(console, staff):
    having = with_level(console.tracker_db, "possible")
    reply = staff.get(console.url + "/export/conversations.csv")
    table = list(csv.DictReader(io.StringIO(reply.text)))
    assert list(table[0]) == ["sender_id", "started", "last_at", "length", "first_question",
                              "callback", "handoff", "unanswered", "emergency", "possible",
                              "reviewed", "labels"]
    assert {r["sender_id"] for r in table if r["possible"] == "True"} == having
    assert {r["sender_id"] for r in table if r["possible"] == "False"} == console.everyone - having
    exported = staff.get(console.url + "/export/conversations.json",
                         params={"possible": "1"}).json()
    assert {r["sender_id"] for r in exported} == having
    assert all(r["possible"] is True for r in exported)


def test_transcript_gives_each_visitor_message_its_triage(console, staff):
    for name in ("possible", "possible_then_emergency", "emergency", "callback"):
        sender = console.senders[name]
        turns = staff.get(f"{console.url}/conversations/{sender}.json").json()["transcript"]
        shown = [(t["triage_level"], t["triage_flags"]) for t in turns if t["kind"] == "visitor"]
        recorded = [(t["level"], t["flags"]) if t else (None, [])
                    for _, t in visitor_triage(console.tracker_db, sender)]
        assert shown == recorded, name
        assert all(t["kind"] == "visitor" for t in turns if "triage_level" in t)
    rows = list(csv.DictReader(io.StringIO(staff.get(
        f"{console.url}/conversations/{console.senders['possible_then_emergency']}.csv").text)))
    assert [(r["triage_level"], r["triage_flags"]) for r in rows if r["kind"] == "visitor"] == \
        [("possible", "cancer_history"), ("emergency", "bladder_bowel")]


def test_transcript_page_marks_the_messages_that_raised_a_flag(console, staff):
    html = staff.get(f"{console.url}/conversations/{console.senders['possible_then_emergency']}"
                     ).text
    assert '<div class="bubble visitor triage-possible">I had cancer years ago, is cryotherapy ' \
           'ok for my back?<div class="meta">' in html
    assert '<span class="triage">possible: cancer_history</span>' in html
    assert '<div class="bubble visitor triage-emergency">since this morning I have no control ' \
           'over my bladder<div class="meta">' in html
    assert '<span class="triage">emergency: bladder_bowel</span>' in html
    assert f'<span class="badge badge-possible">{POSSIBLE_LABEL}</span>' in html
    # a message triaged `none` gets no mark
    plain = staff.get(f"{console.url}/conversations/{console.senders['callback']}").text
    assert 'class="triage"' not in plain and "triage-" not in plain.split("<main>")[1]


def test_front_desk_finds_possible_emergencies_in_a_browser(console, browser):
    """Chromium: the filter by its label, the badge, the marked message; axe-core finds nothing
    serious in the list or the transcript. Screenshots in tests/artifacts/console/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(console.url + "/login")
        page.get_by_label("User name").fill("staff")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Conversations", exact=True).click()  # from the home page
        page.get_by_label(POSSIBLE_LABEL).check()
        page.get_by_role("button", name="Show").click()
        having = with_level(console.tracker_db, "possible")
        expect(page.locator("tbody tr")).to_have_count(len(having))
        expect(page.locator("tbody .badge-possible")).to_have_count(len(having))
        expect(page.locator("tbody .badge-possible").first).to_have_text(POSSIBLE_LABEL)
        colours = page.evaluate("""() => ['.badge-possible', '.badge-emergency'].map(s => {
            const e = document.querySelector('tbody ' + s); return e && getComputedStyle(e).backgroundColor; })""")
        assert colours[0] and colours[1] and colours[0] != colours[1]
        assert serious_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "4-possible-filter.png"), full_page=True)

        page.goto(f"{console.url}/conversations/{console.senders['possible_then_emergency']}")
        marks = page.locator(".bubble.visitor .triage")
        expect(marks).to_have_text(["possible: cancer_history", "emergency: bladder_bowel"])
        assert serious_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "5-possible-transcript.png"), full_page=True)
    finally:
        context.close()


# --- Conversations recorded before triage, and odd triage data ----------------------------------

def strip_triage(tracker_db, sender, replacement):
    """Rewrites one conversation's visitor events (a copy of the store) as if recorded before
    triage (replacement None: no key) or with a malformed triage value."""
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT id, data FROM events WHERE sender_id = ? AND type_name = 'user'",
                          (sender,)).fetchall()
        for event_id, data in rows:
            event = json.loads(data)
            if replacement is None:
                event["parse_data"].pop("triage", None)
            else:
                event["parse_data"]["triage"] = replacement
            db.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(event), event_id))


@pytest.mark.parametrize("replacement", [
    None, "possible", {"level": 3}, {"level": "possible", "flags": "fever"},
    {"level": "<b>possible</b>", "flags": ["<script>"]}, {"flags": ["fever"]},
], ids=["no-key", "string", "number", "flags-string", "unknown-level", "no-level"])
def test_conversations_without_usable_triage_index_fine(recorded, tmp_path_factory, replacement):
    workdir = unique_dir(tmp_path_factory, "console_old_triage")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    old, other = recorded.senders["possible"], recorded.senders["possible_then_emergency"]
    strip_triage(tracker, old, replacement)
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    with sqlite3.connect(tracker) as db:
        assert indexer.index_all(dbs) == db.execute("SELECT count(*) FROM events").fetchone()[0]
    rows = {r["sender_id"]: r for r in queries.list_conversations(
        dbs, parse_filters({}), paginate=False)["conversations"]}
    flags_string = isinstance(replacement, dict) and replacement.get("flags") == "fever"
    assert rows[old]["possible"] is flags_string  # only a known level counts
    assert rows[other]["possible"] is True  # the rest is untouched
    said = [t for t in queries.transcript(dbs, old) if t["kind"] == "visitor"]
    expected = ("possible", []) if flags_string else (None, [])
    assert [(t["triage_level"], t["triage_flags"]) for t in said] == [expected]


# --- A console.db from before the change ---------------------------------------------------------

# Added to console_conversations since (in this order): the upgrade adds them all.
ADDED = ["possible", "not_helpful", "non_english"]


def downgrade(console_db):
    """Turns a console.db into what the release before `possible` had: the column and its index
    gone (SQLite drops a column only without its indexes), and so the columns added later."""
    with sqlite3.connect(console_db) as db:
        for index in ("ix_console_conv_home", *(f"ix_console_conv_{name}" for name in ADDED)):
            db.execute(f"DROP INDEX {index}")
        for name in ADDED:
            db.execute(f"ALTER TABLE console_conversations DROP COLUMN {name}")
        columns = [row[1] for row in db.execute("PRAGMA table_info(console_conversations)")]
    assert columns == COLUMNS_BEFORE


def columns_of(console_db):
    with sqlite3.connect(console_db) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(console_conversations)")]
        indexes = {row[1] for row in db.execute("PRAGMA index_list(console_conversations)")}
    return columns, indexes


def old_console_db(recorded, tmp_path_factory, name):
    """A console.db as the previous release left it: indexed, a staff account, a reviewed
    conversation with a note, a callback marked called; then the column taken away."""
    workdir = unique_dir(tmp_path_factory, name)
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    console_cli(workdir, tracker, "create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    indexer.index_all(dbs)
    queries.save_review(dbs, recorded.senders["possible"], True, "called her back", "kim")
    callback = queries.callback_queue(dbs)[0]
    queries.save_callback_mark(dbs, callback["id"], True, "done", "kim")
    dbs.console.dispose()
    downgrade(workdir / "console.db")
    return workdir, tracker, callback["id"]


def test_an_existing_console_db_is_upgraded_on_start_and_keeps_working(recorded,
                                                                       tmp_path_factory):
    workdir, tracker, callback_id = old_console_db(recorded, tmp_path_factory, "console_upgrade")
    console = start_console(workdir, tracker, user=None)
    try:
        columns, indexes = columns_of(workdir / "console.db")
        assert columns == COLUMNS_BEFORE + ADDED
        assert {"ix_console_conv_possible", "ix_console_conv_home"} <= indexes
        staff = console.login("kim")  # the account from before
        rows = listing(console, staff)
        having = with_level(tracker, "possible")
        with sqlite3.connect(tracker) as db:
            everyone = {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events")}
        # rebuilt from the events: every conversation, the badge right for the old ones too
        assert set(rows) == everyone
        assert {s for s, r in rows.items() if r["possible"]} == having
        assert set(listing(console, staff, possible="1")) == having
        reviewed = staff.get(f"{console.url}/conversations/{recorded.senders['possible']}.json"
                             ).json()["conversation"]
        assert (reviewed["reviewed"], reviewed["note"], reviewed["possible"]) == \
            (True, "called her back", True)
        called = staff.get(console.url + "/callbacks.json?status=called").json()["callbacks"]
        assert callback_id in [c["id"] for c in called]
        assert staff.get(console.url + "/export/conversations.csv").status_code == 200
    finally:
        console.stop()
    log = (workdir / "console.log").read_text()
    assert log.count("console.db upgraded (added console_conversations.possible, "
                     "console_conversations.not_helpful, console_conversations.non_english)") == 1
    # the next start finds nothing to upgrade and keeps the summary
    again = start_console(workdir, tracker, user=None)
    try:
        assert set(listing(again, again.login("kim"), possible="1")) == having
    finally:
        again.stop()
    assert (workdir / "console.log").read_text().count("console.db upgraded") == 1


def test_two_processes_upgrading_at_once_both_succeed(recorded, tmp_path_factory):
    workdir, tracker, _ = old_console_db(recorded, tmp_path_factory, "console_upgrade_race")
    env = server_env(console_env(workdir, tracker))
    runs = [subprocess.Popen([str(BIN / "python"), "-m", "console", "index"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(run.wait(timeout=300), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0], results
    assert sum(err.count("console.db upgraded") for _, _, err in results) == 1
    assert columns_of(workdir / "console.db")[0] == COLUMNS_BEFORE + ADDED
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    indexer.index_all(dbs)
    rows = queries.list_conversations(dbs, parse_filters({"possible": "1"}),
                                      paginate=False)["conversations"]
    assert {r["sender_id"] for r in rows} == with_level(tracker, "possible")


def test_reindex_rebuilds_the_possible_column(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_reindex_possible")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    console_cli(workdir, tracker, "index")
    with sqlite3.connect(workdir / "console.db") as db:  # a summary gone wrong
        db.execute("UPDATE console_conversations SET possible = NOT possible")
    console_cli(workdir, tracker, "reindex")
    with sqlite3.connect(workdir / "console.db") as db:
        flagged = {s for (s,) in db.execute(
            "SELECT sender_id FROM console_conversations WHERE possible")}
    assert flagged == with_level(tracker, "possible")
