"""The console's pages and their JSON forms, over HTTP, against a copy of a tracker store filled by
real conversations (tests/console/conftest.py); one conversation is aged 40 days."""
import csv
import hashlib
import io
import json
import sqlite3
from datetime import timedelta

import pytest
import requests
import yaml

from console.filters import today
from tests.console.conftest import (
    SCRIPT, age, copy_tracker, csrf_of, events_of, foreign_scripts, start_console, unique_dir,
)

BADGE_ACTIONS = {"callback": None, "handoff": "action_handoff",
                 "unanswered": "action_fallback", "emergency": "action_emergency"}


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_web")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    age(tracker, recorded.senders["old"], 40)
    running = start_console(workdir, tracker)
    running.senders = recorded.senders
    # Other modules may have added conversations to the live store before it was copied.
    with sqlite3.connect(tracker) as db:
        running.everyone = {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events")}
    yield running
    running.stop()


@pytest.fixture(scope="module")
def staff(console):
    return console.login()


def listing(console, staff, **args):
    reply = staff.get(console.url + "/conversations.json", params=args)
    assert reply.status_code == 200, reply.text
    return reply.json()


def senders(console, staff, **args):
    return {row["sender_id"] for row in listing(console, staff, **args)["conversations"]}


def expected_badges(console, sender):
    """The badges a conversation must carry, read from Rasa's events themselves."""
    events = events_of(console.tracker_db, sender)
    actions = {action for kind, action, _ in events if kind == "action"}
    with sqlite3.connect(console.tracker_db) as db:
        submitted = db.execute(
            "SELECT count(*) FROM events WHERE sender_id = ? AND type_name = 'slot' AND "
            "action_name = 'callback_status' AND data LIKE ?", (sender, '%"submitted"%')
        ).fetchone()[0]
    badges = {badge: action in actions for badge, action in BADGE_ACTIONS.items() if action}
    badges["callback"] = submitted > 0
    return badges


# --- Login, sessions, CSRF ---------------------------------------------------------------------

GET_ROUTES = ["/", "/conversations", "/callbacks", "/unanswered", "/conversations/{sender}",
              "/incidents", "/audit", "/console.js"]
DATA_ROUTES = ["/home.json", "/conversations.json", "/callbacks.json", "/unanswered.json", "/unanswered.yml",
               "/conversations/{sender}.json", "/conversations/{sender}.csv",
               "/export/conversations.csv", "/export/conversations.json",
               "/export/callbacks.csv", "/export/callbacks.json",
               "/export/callbacks.csv?unmasked=1", "/export/callbacks.json?unmasked=1",
               "/incidents.json", "/audit.json", "/audit.csv", "/notifications.json"]
POST_ROUTES = ["/conversations/{sender}/review", "/callbacks/{callback}/called",
               "/conversations/{sender}/labels", "/conversations/{sender}/labels/remove",
               "/logout"]
# The only routes that answer without a session, on purpose: the login form, and the health
# check, which says nothing but whether both databases answer.
OPEN_ROUTES = {"GET": ["/login", "/health"], "POST": ["/login"]}


def fill(console, staff, route):
    callback = staff.get(console.url + "/callbacks.json?status=all").json()["callbacks"][0]["id"]
    return route.format(sender=console.senders["callback"], callback=callback)


@pytest.mark.parametrize("cookie", [None, "forged-session-token"])
def test_every_route_refuses_a_request_without_a_session(console, staff, cookie):
    cookies = {"console_session": cookie} if cookie else {}
    for route in GET_ROUTES:
        reply = requests.get(console.url + fill(console, staff, route), cookies=cookies,
                             allow_redirects=False)
        assert reply.status_code == 302 and reply.headers["location"].startswith("/login"), route
    for route in DATA_ROUTES + GET_ROUTES:
        reply = requests.get(console.url + fill(console, staff, route), cookies=cookies,
                             headers={"Accept": "application/json"}, allow_redirects=False)
        assert reply.status_code == 401, route
        assert "Jane" not in reply.text and "555" not in reply.text
    for route in POST_ROUTES:
        reply = requests.post(console.url + fill(console, staff, route), cookies=cookies,
                              data={"reviewed": "1", "called": "1", "label": "anonymous"},
                              allow_redirects=False)
        assert reply.status_code in (302, 401), route
    assert not listing(console, staff, reviewed="yes")["conversations"]
    assert listing(console, staff, label="anonymous")["total"] == 0
    assert staff.get(console.url + "/callbacks.json?status=called").json()["callbacks"] == []


def test_only_login_and_health_answer_without_a_session(console, staff):
    reply = requests.get(console.url + "/health", allow_redirects=False)
    assert (reply.status_code, reply.json()) == (200, {"status": "ok"})
    assert reply.headers["cache-control"] == "no-store"
    assert requests.get(console.url + "/login", allow_redirects=False).status_code == 200
    from console.web import OPEN_PATHS
    assert OPEN_PATHS == {"/login", "/health"}


def test_every_route_of_the_app_is_in_one_of_the_lists(console, staff, tmp_path):
    """A new route must be added to a list above, and so be checked for its login."""
    import re
    from console.db import Databases, sqlite_url
    from console.web import create_app
    app = create_app(Databases(sqlite_url(console.tracker_db, read_only=True),
                               sqlite_url(tmp_path / "console.db")), secret=b"routes",
                     trusted_proxies="", spool=tmp_path / "spool.db")
    listed = {"GET": GET_ROUTES + DATA_ROUTES + OPEN_ROUTES["GET"],
              "POST": POST_ROUTES + OPEN_ROUTES["POST"]}
    for route in app.router.routes:
        pattern = re.compile("/" + re.sub(r"<[^>]+>", "[^/]+", route.path).replace(".", r"\.")
                             + r"(\?.*)?")
        for method in route.methods:
            urls = [fill(console, staff, url) for url in listed[method]]
            assert any(pattern.fullmatch(url) for url in urls), (method, route.path)


def test_login_cookie_is_httponly_samesite_and_expires(console):
    session = requests.Session()
    reply = console.post_login(session, "staff", "a long enough staff password")
    cookie = reply.headers["set-cookie"]
    assert "console_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
    assert reply.headers["location"] == "/"  # the home page


def test_wrong_password_and_unknown_user_are_refused_alike(console):
    for user, password in (("staff", "not the password at all"), ("nobody", "whatever it is!")):
        reply = console.post_login(requests.Session(), user, password)
        assert reply.status_code == 401 and "console_session=" not in reply.headers.get(
            "set-cookie", "")
        assert "Wrong user name or password" in reply.text


def test_login_form_needs_its_csrf_token(console):
    session = requests.Session()
    for token in ("", "0" * 64):
        reply = console.post_login(session, "staff", "a long enough staff password", token=token)
        assert reply.status_code == 403


def test_logout_ends_the_session(console):
    session = console.login()
    token = csrf_of(session.get(console.url + "/conversations").text)
    assert session.post(console.url + "/logout", data={"csrf": token},
                        allow_redirects=False).status_code == 303
    old = {"console_session": session.cookies.get("console_session") or "x"}
    assert requests.get(console.url + "/conversations.json", cookies=old).status_code == 401
    assert session.get(console.url + "/conversations.json").status_code == 401


def test_state_changing_forms_need_the_sessions_csrf_token(console, staff):
    sender = console.senders["handoff"]
    other = console.login()
    other_token = csrf_of(other.get(console.url + "/conversations").text)
    for data in ({"reviewed": "1"}, {"reviewed": "1", "csrf": "f" * 64},
                 {"reviewed": "1", "csrf": other_token}):
        reply = staff.post(f"{console.url}/conversations/{sender}/review", data=data,
                           allow_redirects=False)
        assert reply.status_code == 403
    assert sender not in senders(console, staff, reviewed="yes")


# --- The conversation list: badges, filters, search, pagination --------------------------------

def test_list_is_newest_first_with_start_length_and_first_question(console, staff):
    rows = listing(console, staff)["conversations"]
    assert {r["sender_id"] for r in rows} == console.everyone
    assert [r["started"] for r in rows] == sorted((r["started"] for r in rows), reverse=True)
    by_sender = {r["sender_id"]: r for r in rows}
    callback = by_sender[console.senders["callback"]]
    # "hi there" is a greeting: the first real question is shown instead.
    assert callback["first_question"] == "what does a cryotherapy session cost me"
    user_and_bot = [e for e in events_of(console.tracker_db, console.senders["callback"])
                    if e[0] in ("user", "bot")]
    assert callback["length"] == len(user_and_bot)


def test_badges_match_what_happened_in_each_conversation(console, staff):
    rows = {r["sender_id"]: r for r in listing(console, staff)["conversations"]}
    for sender in console.everyone:
        for badge, expected in expected_badges(console, sender).items():
            assert rows[sender][badge] == expected, (sender, badge)
    # and the scenarios did exercise every badge
    assert rows[console.senders["callback"]]["callback"]
    assert rows[console.senders["handoff"]]["handoff"]
    assert rows[console.senders["unanswered"]]["unanswered"]
    assert rows[console.senders["emergency"]]["emergency"]


@pytest.mark.parametrize("badge", ["callback", "handoff", "unanswered", "emergency"])
def test_each_badge_filter(console, staff, badge):
    having = {s for s in console.everyone if expected_badges(console, s)[badge]}
    assert having and senders(console, staff, **{badge: "1"}) == having
    assert senders(console, staff, **{badge: "0"}) == console.everyone - having


def test_intent_filter(console, staff):
    with sqlite3.connect(console.tracker_db) as db:
        expected = {s for (s,) in db.execute(
            "SELECT DISTINCT sender_id FROM events WHERE type_name = 'user' AND intent_name = ?",
            ("emergency",))}
    assert console.senders["emergency"] in expected
    assert senders(console, staff, intent="emergency") == expected
    assert senders(console, staff, intent="no_such_intent") == set()


def test_reviewed_filter_and_review_note(console, staff):
    sender = console.senders["emergency"]
    page = staff.get(f"{console.url}/conversations/{sender}")
    reply = staff.post(f"{console.url}/conversations/{sender}/review", allow_redirects=False,
                       data={"csrf": csrf_of(page.text), "reviewed": "1",
                             "note": f"Called 911? {SCRIPT}"})
    assert reply.status_code == 303
    assert senders(console, staff, reviewed="yes") == {sender}
    assert sender not in senders(console, staff, reviewed="no")
    assert len(senders(console, staff, reviewed="no")) == len(console.everyone) - 1
    transcript = staff.get(f"{console.url}/conversations/{sender}.json").json()
    assert transcript["conversation"]["reviewed"] is True
    assert transcript["conversation"]["note"] == f"Called 911? {SCRIPT}"
    assert transcript["conversation"]["updated_by"] == "staff"
    html = staff.get(f"{console.url}/conversations/{sender}").text
    assert "Called 911? &lt;script&gt;" in html and SCRIPT not in html


def test_date_range_filter(console, staff):
    old = console.senders["old"]
    now = today()
    forty = now - timedelta(days=40)
    recent = senders(console, staff, **{"from": (now - timedelta(days=1)).isoformat()})
    assert old not in recent and len(recent) == len(console.everyone) - 1
    assert senders(console, staff, **{"from": (forty - timedelta(days=1)).isoformat(),
                                      "to": (forty + timedelta(days=1)).isoformat()}) == {old}
    assert senders(console, staff, to=(now - timedelta(days=60)).isoformat()) == set()


@pytest.mark.parametrize("query, scenario", [
    ("pizza", "unanswered"), ("PIZZA Place", "unanswered"), ("football game", "unanswered"),
    ("bladder", "emergency"), ("0177", "personal"), ("hurt", "xss"),
])
def test_full_text_search_over_what_visitors_wrote(console, staff, query, scenario):
    assert console.senders[scenario] in senders(console, staff, q=query)
    with sqlite3.connect(console.tracker_db) as db:
        said = db.execute("SELECT sender_id, data FROM events WHERE type_name = 'user'").fetchall()
    words = query.lower().split()
    expected = {s for s, data in said
                if all(w in json.loads(data)["text"].lower() for w in words)}
    assert senders(console, staff, q=query) == expected


def test_search_finds_words_only_in_visitor_text_and_survives_odd_input(console, staff):
    assert senders(console, staff, q="Sorry, I can't help with that") == set()  # the bot's words
    for odd in ('"pizza', "pizza OR *", "NEAR(", "%", "_", "'; DROP TABLE events; --", "???"):
        reply = staff.get(console.url + "/conversations.json", params={"q": odd})
        assert reply.status_code == 200, odd
    assert senders(console, staff, q="%") == set()


def test_filters_combine(console, staff):
    assert console.senders["callback"] in senders(console, staff, handoff="1", callback="1")
    assert console.senders["handoff"] in senders(console, staff, handoff="1", callback="0")
    assert console.senders["handoff"] not in senders(console, staff, handoff="1", callback="1")
    assert senders(console, staff, q="pizza", emergency="1") == set()


def test_pagination(console, staff):
    first = listing(console, staff)
    assert first["total"] == len(console.everyone) and first["pages"] == 1
    assert listing(console, staff, page="2")["conversations"] == []


# --- Transcript ---------------------------------------------------------------------------------

def test_transcript_shows_the_chat_with_intents_confidence_buttons_and_events(console, staff):
    sender = console.senders["callback"]
    data = staff.get(f"{console.url}/conversations/{sender}.json").json()
    turns = data["transcript"]
    visitor = [t for t in turns if t["kind"] == "visitor"]
    assert [t["intent"] for t in visitor][:3] == ["greet", "ask_cost", "book_appointment"]
    assert all(0 <= t["confidence"] <= 1 for t in visitor)
    bot = [t for t in turns if t["kind"] == "bot"]
    assert any("Yes, please" in t["buttons"] for t in bot)
    markers = [t["text"] for t in turns if t["kind"] == "event"]
    assert "Handed off to phone" in markers and "Callback request submitted" in markers
    html = staff.get(f"{console.url}/conversations/{sender}").text
    assert 'class="bubble visitor"' in html and 'class="bubble bot"' in html
    assert "ask_cost (" in html and "Yes, please" in html


def test_unknown_conversation_is_a_404(console, staff):
    assert staff.get(console.url + "/conversations/nobody_here_at_all").status_code == 404
    assert staff.get(console.url + "/conversations/nobody_here_at_all.json").status_code == 404


# --- Escaping -----------------------------------------------------------------------------------

def test_visitor_text_is_escaped_in_every_page(console, staff):
    pages = ["/conversations", "/conversations?q=hurt", "/callbacks", "/callbacks?status=all",
             "/unanswered", f"/conversations/{console.senders['xss']}",
             f"/conversations/{console.senders['callback']}"]
    for page in pages:
        html = staff.get(console.url + page).text
        assert not foreign_scripts(html), page
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; does cryotherapy hurt?" in \
        staff.get(console.url + "/conversations?q=hurt").text
    assert "Jane &lt;script&gt;" in staff.get(console.url + "/callbacks").text


def test_pages_carry_a_strict_content_security_policy(console, staff):
    reply = staff.get(console.url + "/conversations")
    assert "default-src 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"


# --- Callback queue -----------------------------------------------------------------------------

def test_callback_queue_shows_the_request_in_full(console, staff):
    queue = staff.get(console.url + "/callbacks.json").json()
    # Jane asked twice (tests/console/test_console_callbacks.py has the merging in detail).
    assert (queue["total"], queue["requests"]) == (2, 3)
    row = queue["callbacks"][0]
    assert row["sender_id"] == console.senders["callback"]
    assert row["name"] == f"Jane {SCRIPT} Doe"
    assert row["phone"] == "(314) 555-0142"
    assert row["preferred_time"] == "weekday mornings"
    assert row["question"] == "I want to book an appointment"
    assert row["requests"] == 2
    assert "(314) 555-0142" in staff.get(console.url + "/callbacks").text


def test_marking_a_callback_as_called_with_a_note(console, staff):
    jane, dana = staff.get(console.url + "/callbacks.json").json()["callbacks"]
    token = csrf_of(staff.get(console.url + "/callbacks").text)
    reply = staff.post(f"{console.url}/callbacks/{jane['id']}/called", allow_redirects=False,
                       data={"csrf": token, "called": "1", "note": "Left a voicemail"})
    assert reply.status_code == 303
    assert [c["id"] for c in staff.get(console.url + "/callbacks.json").json()["callbacks"]] == \
        [dana["id"]]
    called = staff.get(console.url + "/callbacks.json?status=called").json()["callbacks"]
    assert sorted((c["id"], c["called"], c["note"], c["updated_by"]) for c in called) == \
        [(i, True, "Left a voicemail", "staff") for i in jane["ids"]]
    assert staff.post(f"{console.url}/callbacks/99999999/called",
                      data={"csrf": token, "called": "1"}).status_code == 404


# --- Masking and exports ------------------------------------------------------------------------

def test_phone_numbers_and_emails_are_masked_outside_the_callback_queue(console, staff):
    personal = console.senders["personal"]
    for path in (f"/conversations/{personal}.json", f"/conversations/{personal}.csv",
                 f"/conversations/{personal}", "/conversations.json", "/conversations",
                 "/export/conversations.csv", "/export/conversations.json"):
        text = staff.get(console.url + path).text
        assert "636 555 0177" not in text and "jane.doe@example.com" not in text, path
    turns = staff.get(f"{console.url}/conversations/{personal}.json").json()["transcript"]
    said = [t["text"] for t in turns if t["kind"] == "visitor"][0]
    assert "\u2022\u2022\u2022 \u2022\u2022\u2022 \u2022\u202277" in said and "j\u2022\u2022\u2022@" in said
    callback_chat = staff.get(f"{console.url}/conversations/{console.senders['callback']}.json")
    assert "314-555-0142" not in callback_chat.text
    # the bot's own text (the clinic's number) is not visitor data and stays readable
    assert "(314) 731-4201" in callback_chat.text


def test_list_export_as_csv_and_json_follows_the_filters(console, staff):
    reply = staff.get(console.url + "/export/conversations.csv", params={"callback": "1"})
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    # newest first, as the list
    assert [r["sender_id"] for r in rows] == [
        console.senders[s] for s in ("callback", "callback_other", "callback_earlier")]
    everything = staff.get(console.url + "/export/conversations.json").json()
    assert {r["sender_id"] for r in everything} == console.everyone


def test_transcript_export_as_csv_and_json(console, staff):
    sender = console.senders["unanswered"]
    rows = list(csv.DictReader(io.StringIO(
        staff.get(f"{console.url}/conversations/{sender}.csv").text)))
    assert [r["text"] for r in rows if r["kind"] == "visitor"][0] == \
        "can you recommend a good pizza place"
    assert staff.get(f"{console.url}/conversations/{sender}.json").json()["conversation"][
        "unanswered"] is True


def test_callback_export_is_masked_unless_asked_and_the_unmasked_one_is_logged(console, staff):
    masked = staff.get(console.url + "/export/callbacks.csv?status=all").text
    assert "(314) 555-0142" not in masked and "(\u2022\u2022\u2022) \u2022\u2022\u2022-\u2022\u202242" in masked
    full = staff.get(console.url + "/export/callbacks.json?status=all&unmasked=1").json()
    assert full[0]["phone"] == "(314) 555-0142"
    with sqlite3.connect(console.workdir / "console.db") as db:
        logged = db.execute("SELECT actor FROM console_audit WHERE action = ?",
                            ("export_unmasked_callbacks",)).fetchall()
    assert ("staff",) in logged


def test_csv_cells_cannot_become_spreadsheet_formulas(console, staff):
    from console.exports import to_csv
    assert to_csv([{"a": "=HYPERLINK(1)"}], ["a"]).splitlines()[1] == "'=HYPERLINK(1)"


# --- Unanswered questions -----------------------------------------------------------------------

def fell_to_fallback(tracker_db):
    """Visitor messages the assistant answered with action_fallback, from Rasa's events."""
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT type_name, action_name, data FROM events WHERE type_name IN "
                          "('user', 'action') AND action_name IS NOT 'action_listen' "
                          "ORDER BY id").fetchall()
    found, last = [], None
    for kind, action, data in rows:
        if kind == "user":
            last = json.loads(data)["text"]
        elif action == "action_fallback" and last is not None:
            found.append(last)
    return found


def test_unanswered_report_groups_similar_messages(console, staff):
    groups = staff.get(console.url + "/unanswered.json").json()["groups"]
    texts = [{t["text"] for t in g["texts"]} for g in groups]
    assert {"can you recommend a good pizza place", "can you recommend a pizza place"} in texts
    assert sum(g["count"] for g in groups) == len(fell_to_fallback(console.tracker_db))
    assert set().union(*texts) == set(fell_to_fallback(console.tracker_db))
    assert "can you recommend a pizza place" in {t["text"] for t in groups[0]["texts"]}
    assert [g["count"] for g in groups] == sorted((g["count"] for g in groups), reverse=True)
    html = staff.get(console.url + "/unanswered").text
    assert "can you recommend a good pizza place" in html


def test_unanswered_export_is_rasa_nlu_yaml(console, staff):
    reply = staff.get(console.url + "/unanswered.yml")
    data = yaml.safe_load(reply.text)
    assert data["version"] == "3.1"
    examples = "".join(item["examples"] for item in data["nlu"])
    assert "- can you recommend a good pizza place" in examples
    assert all(item["intent"].startswith("todo_") for item in data["nlu"])
    assert len({item["intent"] for item in data["nlu"]}) == len(data["nlu"])


# --- Bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/conversations?from=2024-13-01", "/conversations?to=yesterday", "/conversations?page=0",
    "/conversations?page=-1", "/conversations?page=abc", "/conversations?page=99999999999",
    "/conversations?callback=2", "/conversations?reviewed=maybe",
    "/conversations?intent=a%20b", "/conversations?q=" + "x" * 300,
    "/conversations?from=2024-05-02&to=2024-05-01", "/callbacks?status=xyz",
    "/export/callbacks.csv?unmasked=7", "/unanswered?from=nope", "/conversations.json?page=0",
])
def test_bad_input_is_a_clear_400(console, staff, path):
    reply = staff.get(console.url + path)
    assert reply.status_code == 400, reply.text
    assert "must" in reply.text


def test_oversized_form_and_unknown_pages(console, staff):
    token = csrf_of(staff.get(console.url + "/conversations").text)
    sender = console.senders["xss"]
    reply = staff.post(f"{console.url}/conversations/{sender}/review",
                       data={"csrf": token, "note": "x" * 200000})
    assert reply.status_code == 413
    assert staff.get(console.url + "/export/whatever.csv").status_code == 404
    assert staff.get(console.url + "/no/such/page").status_code == 404
    assert staff.delete(console.url + "/conversations").status_code == 405


def test_an_expired_session_is_refused(console):
    session = console.login()
    assert session.get(console.url + "/conversations.json").status_code == 200
    digest = hashlib.sha256(session.cookies["console_session"].encode()).hexdigest()
    with sqlite3.connect(console.workdir / "console.db") as db:  # as if 8 hours had passed
        db.execute("UPDATE console_sessions SET expires_at = expires_at - 28801 "
                   "WHERE token_hash = ?", (digest,))
    assert session.get(console.url + "/conversations.json").status_code == 401
