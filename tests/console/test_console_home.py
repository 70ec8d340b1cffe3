"""The home page (issue 12 part 2) and labels (part 4), against a small tracker store whose
content is known exactly (tests/console/known_store.py, written by Rasa's SQLTrackerStore):
exact figures in the JSON twin and on the page, the period form, the SVG charts (in Chromium at
360 px: no overlapping labels, readable text, axe), visitors' verdicts indexed from `rate_answer`
events, automatic labels, staff labels with CSRF and the audit log, the label filter."""
import re
import sqlite3
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect

from console import indexer, queries
from console.db import Databases, sqlite_url
from console.filters import parse_filters
from scripts.serve import ROOT
from tests.browser.conftest import serious_violations
from tests.console import known_store
from tests.console.conftest import PASSWORD, csrf_of, foreign_scripts, start_console, unique_dir
from tests.console.known_store import (
    CALLED, CONVERSATIONS, EXPECTED_DAYS, EXPECTED_HOURS, EXPECTED_LABELS, EXPECTED_QUESTIONS,
    EXPECTED_TODAY, EXPECTED_TOTALS, EXPECTED_VERDICTS, REVIEWED, ZONE,
)

ARTIFACTS = ROOT / "tests" / "artifacts" / "console"


def clinic_today():
    return datetime.now(ZoneInfo(ZONE)).date()


@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """A console (CONSOLE_TIMEZONE=Asia/Kolkata) over the known store, with one emergency
    marked reviewed and one callback request marked called, through the console's own forms."""
    workdir = unique_dir(tmp_path_factory, "console_home")
    today = clinic_today()
    senders = known_store.build(workdir / "tracker.db", today)
    running = start_console(workdir, workdir / "tracker.db", env={"CONSOLE_TIMEZONE": ZONE})
    running.senders, running.today, running.names = senders, today, {
        sender: name for name, sender in senders.items()}
    staff = running.login()
    running.staff = staff
    reviewed = senders[REVIEWED]
    token = csrf_of(staff.get(f"{running.url}/conversations/{reviewed}").text)
    assert staff.post(f"{running.url}/conversations/{reviewed}/review", allow_redirects=False,
                      data={"csrf": token, "reviewed": "1"}).status_code == 303
    called = [c for c in staff.get(running.url + "/callbacks.json?status=all").json()["callbacks"]
              if c["sender_id"] == senders[CALLED]][0]
    assert staff.post(f"{running.url}/callbacks/{called['id']}/called", allow_redirects=False,
                      data={"csrf": token, "called": "1"}).status_code == 303
    yield running
    running.stop()


def home_json(known, **args):
    reply = known.staff.get(known.url + "/home.json", params=args)
    assert reply.status_code == 200, reply.text
    return reply.json()


# --- Verdicts: what the bot recorded (the answer_verdict slot) ---------------------------------

def verdict_rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, sender_id, answer, verdict, reason, at "
                          "FROM console_verdicts ORDER BY id").fetchall()


def test_verdicts_are_indexed_from_the_answer_verdict_slot(known, tmp_path):
    """In process, over the known store: one row per verdict the bot recorded, at its slot
    event, with the reason given afterwards; presses the bot did not record are not counted."""
    dbs = Databases(sqlite_url(known.tracker_db, read_only=True), sqlite_url(tmp_path / "c.db"))
    indexer.index_all(dbs)
    rows = verdict_rows(tmp_path / "c.db")
    with sqlite3.connect(known.tracker_db) as db:
        recorded = db.execute("SELECT id, sender_id, timestamp FROM events WHERE type_name = "
                              "'slot' AND action_name = 'answer_verdict' AND data NOT LIKE "
                              "'%:not_helpful:%' ORDER BY id").fetchall()
        presses = db.execute("SELECT count(*) FROM events WHERE type_name = 'user' AND "
                             "intent_name = 'rate_answer'").fetchone()[0]
    assert [(known.names[s], answer, verdict, reason) for _, s, answer, verdict, reason, _ in rows
            ] == [("faq_today", "ask_cost", "helpful", None),
                  ("spanish", "ask_cost", "not_helpful", "did_not_answer"),
                  ("rated_hours", "ask_hours", "not_helpful", None)]
    assert [(i, s, at) for i, s, *_, at in rows] == recorded
    assert presses == 5  # two of them not recorded by the bot: not counted
    flagged = {known.names[r["sender_id"]] for r in queries.list_conversations(
        dbs, parse_filters({"label": "not helpful"}), paginate=False)["conversations"]}
    assert flagged == {"spanish", "rated_hours"}
    # a reason whose verdict was indexed in an earlier run lands on the same row
    pieces = Databases(sqlite_url(known.tracker_db, read_only=True),
                       sqlite_url(tmp_path / "pieces.db"))
    indexer.index_all(pieces, limit=2)
    assert verdict_rows(tmp_path / "pieces.db") == rows
    indexer.rebuild(dbs)  # derived: rebuilt the same from the events
    assert verdict_rows(tmp_path / "c.db") == rows


def test_verdicts_of_a_real_conversation_with_the_assistant(recorded, tmp_path):
    """The recorded "verdict" scenario (tests/console/conftest.py), through the real bot: "Not
    helpful" with a reason is one verdict; the second press on the same answer is not counted."""
    from tests.console.conftest import copy_tracker
    tracker = copy_tracker(recorded.tracker_db, tmp_path / "tracker.db")
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(tmp_path / "c.db"))
    indexer.index_all(dbs)
    sender = recorded.senders["verdict"]
    mine = [row[2:5] for row in verdict_rows(tmp_path / "c.db") if row[1] == sender]
    assert mine == [("ask_cost", "not_helpful", "did_not_answer")]
    assert queries.conversation(dbs, sender)["labels"] == ["not helpful"]
    others = {row[1] for row in verdict_rows(tmp_path / "c.db")} - {sender}
    assert not others & set(recorded.senders.values())  # no other scenario rated anything


def test_verdict_slot_values_are_read_strictly():
    assert indexer.verdict_of("ask_cost:helpful") == {"answer": "ask_cost", "verdict": "helpful",
                                                      "reason": None}
    assert indexer.verdict_of("ask_cost:not_helpful:did_not_answer") == {
        "answer": "ask_cost", "verdict": "not_helpful", "reason": "did_not_answer"}
    for odd in (None, 3, "", "ask_cost", "ask_cost:great", "ask_cost:helpful:did_not_answer",
                "a b:helpful", "ask_cost:not_helpful:<b>", "x" * 101 + ":helpful"):
        assert indexer.verdict_of(odd) is None, odd


# --- The home page's figures --------------------------------------------------------------------

def test_days_and_hours_follow_the_clinics_clock_across_dst(monkeypatch, tmp_path):
    """Unit level: conversations put straight into the summary table, in America/Chicago around
    both DST changes of 2024 (a 23-hour and a 25-hour day)."""
    from console import home
    from console.db import conversations
    from console.filters import parse_period
    monkeypatch.setenv("CONSOLE_TIMEZONE", "America/Chicago")
    chicago = ZoneInfo("America/Chicago")
    starts = {  # local wall-clock time, fold=1: the second 01:30 of the 25-hour day
        "before": datetime(2024, 3, 9, 23, 30), "cst": datetime(2024, 3, 10, 1, 30),
        "cdt": datetime(2024, 3, 10, 3, 30), "late": datetime(2024, 3, 10, 23, 59),
        "first 1:30": datetime(2024, 11, 3, 1, 30), "second 1:30": datetime(2024, 11, 3, 1, 30,
                                                                            fold=1),
        "evening": datetime(2024, 11, 3, 22, 0),
    }
    dbs = Databases(sqlite_url(tmp_path / "t.db"), sqlite_url(tmp_path / "c.db"))
    with dbs.console.begin() as db:
        db.execute(conversations.insert(), [
            {"sender_id": name, "started": at.replace(tzinfo=chicago).timestamp(),
             "last_at": at.replace(tzinfo=chicago).timestamp(), "length": 1,
             "callback": name == "cdt", "handoff": False, "unanswered": False,
             "emergency": False, "possible": False, "fold_state": "{}"}
            for name, at in starts.items()])
    assert starts["second 1:30"].replace(tzinfo=chicago).timestamp() - \
        starts["first 1:30"].replace(tzinfo=chicago).timestamp() == 3600
    spring = home.figures(dbs, parse_period({"from": "2024-03-09", "to": "2024-03-10"}),
                          datetime(2024, 3, 10).date())
    assert [(d["date"], d["conversations"], d["callback"]) for d in spring["per_day"]] == [
        ("2024-03-09", 1, 0), ("2024-03-10", 3, 1)]
    assert {h["hour"]: h["conversations"] for h in spring["per_hour"]
            if h["conversations"]} == {23: 2, 1: 1, 3: 1}
    autumn = home.figures(dbs, parse_period({"from": "2024-11-03", "to": "2024-11-03"}),
                          datetime(2024, 11, 3).date())
    assert autumn["totals"]["conversations"] == 3
    assert {h["hour"]: h["conversations"] for h in autumn["per_hour"]
            if h["conversations"]} == {1: 2, 22: 1}
    year = parse_period({"from": "2024-01-01", "to": "2024-12-31"})
    changes = home.offset_stretches(year.start_ts, year.end_ts, chicago)
    assert [(datetime.fromtimestamp(at, chicago).isoformat(), offset) for at, offset in changes
            ] == [("2024-01-01T00:00:00-06:00", -21600), ("2024-03-10T03:00:00-05:00", -18000),
                  ("2024-11-03T01:00:00-06:00", -21600)]


def test_home_json_has_the_known_figures(known):
    data = home_json(known)
    today = known.today
    assert data["timezone"] == ZONE
    assert data["period"] == {"from": (today - timedelta(days=29)).isoformat(),
                              "to": today.isoformat(), "days": 30}
    assert data["totals"] == EXPECTED_TOTALS
    assert data["shares"]["answered_alone"] == round(7 / 12, 4)
    days = {d["date"]: d["conversations"] for d in data["per_day"]}
    assert len(days) == 30
    assert {day: n for day, n in days.items() if n} == {
        (today + timedelta(days=offset)).isoformat(): n for offset, n in EXPECTED_DAYS.items()}
    today_row = [d for d in data["per_day"] if d["date"] == today.isoformat()][0]
    assert today_row == {"date": today.isoformat(), "conversations": 6, "answered_alone": 4,
                         "unanswered": 1, "handoff": 0, "callback": 1, "emergency": 2,
                         "possible": 1}
    hours = {h["hour"]: h["conversations"] for h in data["per_hour"]}
    assert {h: n for h, n in hours.items() if n} == EXPECTED_HOURS and len(hours) == 24
    assert [(q["intent"], q["count"]) for q in data["top_questions"]] == EXPECTED_QUESTIONS
    assert data["questions"] == 11  # the greeting, the verdicts and the reason are not questions
    assert data["verdicts"] == EXPECTED_VERDICTS
    assert data["today"] == dict(EXPECTED_TODAY, date=today.isoformat())


def test_the_period_total_matches_the_list_for_the_same_days(known):
    for args in ({}, {"from": (known.today - timedelta(days=2)).isoformat(),
                      "to": (known.today - timedelta(days=1)).isoformat()}):
        data = home_json(known, **args)
        listed = known.staff.get(known.url + "/conversations.json", params={
            "from": data["period"]["from"], "to": data["period"]["to"]}).json()["total"]
        assert data["totals"]["conversations"] == listed
    # The Kolkata day before yesterday starts at 18:30 UTC: the Spanish conversation at 00:10
    # local is on it (in UTC it is still the day before), at hour 0.
    day = (known.today - timedelta(days=2)).isoformat()
    one = home_json(known, **{"from": day, "to": day})
    assert one["totals"]["conversations"] == 1 and one["period"]["days"] == 1
    assert [h["hour"] for h in one["per_hour"] if h["conversations"]] == [0]
    assert one["top_questions"] == [{"intent": "ask_cost", "count": 1}]
    assert one["verdicts"]["by_answer"] == [{"answer": "ask_cost", "helpful": 0,
                                             "not_helpful": 1, "verdicts": 1, "rate": 0.0,
                                             "reasons": {"did_not_answer": 1}}]


def test_a_period_without_verdicts_says_so(known):
    start = (known.today - timedelta(days=45)).isoformat()
    end = (known.today - timedelta(days=31)).isoformat()
    data = home_json(known, **{"from": start, "to": end})
    assert data["totals"]["conversations"] == 1  # the old emergency, 40 days ago
    assert data["totals"]["emergency"] == 1
    assert data["verdicts"] == {"helpful": 0, "not_helpful": 0, "verdicts": 0, "rate": None,
                                "reasons": {}, "by_answer": []}
    html = known.staff.get(known.url + "/", params={"from": start, "to": end}).text
    assert "No verdicts yet" in html
    assert 'id="chart-verdicts-title"' not in html


@pytest.mark.parametrize("args", [
    {"from": "2024-05-02", "to": "2024-05-01"}, {"from": "2023-01-01", "to": "2024-12-31"},
    {"from": "yesterday"}, {"to": "2024-02-30"},
])
def test_bad_periods_are_a_clear_400(known, args):
    for path in ("/", "/home.json"):
        reply = known.staff.get(known.url + path, params=args)
        assert reply.status_code == 400 and "must" in reply.text, (path, args)


def test_the_home_page_shows_the_same_numbers(known):
    html = known.staff.get(known.url + "/").text
    today = known.today.isoformat()
    assert f"<h1>Today, {today}</h1>" in html
    assert '<span class="big">1</span> person to call back</a>' in html
    assert "2 open requests, 1 of them today." in html
    emergency = html.split('id="tile-emergency"')[1].split("</section>")[0]
    assert '<span class="big">1</span> not reviewed today' in emergency
    assert ">2 today</a>" in emergency and ">2 not reviewed, all days</a>" in emergency
    assert f'href="/conversations?emergency=1&amp;reviewed=no&amp;from={today}&amp;to={today}"' \
        in emergency
    possible = html.split('id="tile-possible"')[1].split("</section>")[0]
    assert '<span class="big">1</span> not reviewed today' in possible
    # the numbers under each chart
    assert f'<tr><th scope="row">{today}</th><td class="num">6</td><td class="num">4</td>' in html
    assert '<tr><th scope="row">23:00-23:59</th><td class="num">1</td></tr>' in html
    assert '<tr><th scope="row">Answered without help</th><td class="num">7</td>' \
           '<td class="num">58%</td></tr>' in html
    assert '<tr><th scope="row">book_appointment</th><td class="num">3</td></tr>' in html
    assert '<tr><th scope="row">ask_cost</th><td class="num">1</td><td class="num">1</td>' \
           '<td class="num">50%</td><td class="num">did not answer: 1</td></tr>' in html
    assert "<strong>33% helpful</strong> (1 of 3 verdicts)" in html
    assert 'Reasons given for "not helpful": did not answer: 1 (of 2).' in html
    assert "12 conversations in 30 days" in html


def test_the_charts_are_inline_accessible_svg(known):
    html = known.staff.get(known.url + "/").text
    assert not foreign_scripts(html)
    charts = re.findall(r"<svg [^>]*>.*?</svg>", html, re.S)
    assert len(charts) == 5
    for svg in charts:
        head = svg.split(">")[0]
        assert 'viewBox="0 0 320 ' in head and 'width="100%"' in head and 'role="img"' in head
        title = re.search(r'aria-labelledby="([^"]+)"', head).group(1)
        desc = re.search(r'aria-describedby="([^"]+)"', head).group(1)
        assert f'<title id="{title}">' in svg and f'<desc id="{desc}">' in svg
        assert "http" not in svg and "href" not in svg  # nothing fetched, nothing linked
    # each chart is followed by its numbers, which open without a script
    assert html.count("<details>") == 5
    assert "<desc id=\"chart-days-desc\">12 conversations from" in html


def test_login_lands_on_the_home_page_and_the_list_keeps_its_place(known):
    session = requests.Session()
    reply = known.post_login(session, "staff", PASSWORD)
    assert reply.headers["location"] == "/"
    page = session.get(known.url + "/").text
    assert '<a href="/">Home</a>' in page and '<a href="/conversations">Conversations</a>' in page
    assert "<h1>Conversations</h1>" in session.get(known.url + "/conversations").text


def test_the_home_page_is_behind_the_login(known):
    for path in ("/", "/home.json", "/?from=2024-01-01"):
        reply = requests.get(known.url + path, allow_redirects=False)
        assert reply.status_code in (302, 401), path
        assert "conversations" not in reply.text
    assert requests.get(known.url + "/home.json").status_code == 401
    assert requests.get(known.url + "/", allow_redirects=False).headers["location"] == \
        "/login?next=/"


# --- Labels ------------------------------------------------------------------------------------

def listing(known, session=None, **args):
    reply = (session or known.staff).get(known.url + "/conversations.json", params=args)
    assert reply.status_code == 200, reply.text
    return {known.names[r["sender_id"]]: r for r in reply.json()["conversations"]}


def audit_rows(known, action):
    with sqlite3.connect(known.workdir / "console.db") as db:
        return db.execute("SELECT actor, detail FROM console_audit WHERE action = ? ORDER BY id",
                          (action,)).fetchall()


def test_automatic_labels_come_from_the_events(known):
    rows = listing(known)
    assert set(rows) == set(CONVERSATIONS)
    for name, row in rows.items():
        assert row["labels"] == EXPECTED_LABELS.get(name, []), name
        assert row["manual_labels"] == []
    assert (rows["spanish"]["non_english"], rows["spanish"]["not_helpful"]) == (True, True)
    spanish = known.staff.get(f"{known.url}/conversations/{known.senders['spanish']}.json").json()
    assert spanish["conversation"]["labels"] == ["not helpful", "non-English"]
    page = known.staff.get(f"{known.url}/conversations/{known.senders['spanish']}").text
    assert '<span class="badge badge-auto">not helpful</span>' in page
    assert '<span class="badge badge-auto">non-English</span>' in page
    # the list shows them as badges too (those with a badge of their own keep it)
    listed = known.staff.get(known.url + "/conversations").text
    assert listed.count('<span class="badge badge-auto">non-English</span>') == 1


@pytest.mark.parametrize("label", ["emergency", "callback", "handoff", "fallback",
                                   "not helpful", "non-English", "NON-ENGLISH"])
def test_filter_by_an_automatic_label(known, label):
    expected = {name for name, labels in EXPECTED_LABELS.items()
                if label.lower() in [x.lower() for x in labels]}
    assert expected and set(listing(known, label=label)) == expected


def test_staff_add_and_remove_labels_with_csrf_and_the_audit_log(known):
    sender = known.senders["handoff_late"]
    token = csrf_of(known.staff.get(f"{known.url}/conversations/{sender}").text)
    add = f"{known.url}/conversations/{sender}/labels"
    reply = known.staff.post(add, data={"csrf": token, "label": "  Call   Back  LATER "},
                             allow_redirects=False)
    assert (reply.status_code, reply.headers["location"]) == (303, f"/conversations/{sender}")
    assert known.staff.post(add, data={"csrf": token, "label": "billing"}).status_code == 200
    assert known.staff.post(add, data={"csrf": token, "label": "billing"}).status_code == 200
    row = listing(known)["handoff_late"]
    assert row["manual_labels"] == ["billing", "call back later"]
    assert row["labels"] == ["handoff", "billing", "call back later"]
    assert set(listing(known, label="billing")) == {"handoff_late"}
    assert set(listing(known, label="Call back later")) == {"handoff_late"}
    assert listing(known, label="no such label") == {}
    page = known.staff.get(f"{known.url}/conversations/{sender}").text
    assert '<span class="badge badge-label">billing</span>' in page
    assert 'aria-label="Remove the label billing"' in page
    assert "<option>billing</option>" in known.staff.get(known.url + "/conversations").text
    # added once each (the second "billing" changed nothing), by whom, on what
    assert audit_rows(known, "label_add") == [("staff", f"{sender}: call back later"),
                                               ("staff", f"{sender}: billing")]

    remove = f"{known.url}/conversations/{sender}/labels/remove"
    reply = known.staff.post(remove, data={"csrf": token, "label": "Billing"},
                             allow_redirects=False)
    assert reply.status_code == 303
    assert listing(known)["handoff_late"]["manual_labels"] == ["call back later"]
    assert listing(known, label="billing") == {}
    assert audit_rows(known, "label_remove") == [("staff", f"{sender}: billing")]
    assert known.staff.post(remove, data={"csrf": token, "label": "billing"}).status_code == 200
    assert len(audit_rows(known, "label_remove")) == 1  # nothing there: nothing logged


def test_label_forms_need_the_sessions_csrf_token(known):
    sender = known.senders["greet_only"]
    other = known.login()
    other_token = csrf_of(other.get(known.url + "/conversations").text)
    for path in ("labels", "labels/remove"):
        for data in ({"label": "forged"}, {"label": "forged", "csrf": "f" * 64},
                     {"label": "forged", "csrf": other_token}):
            reply = known.staff.post(f"{known.url}/conversations/{sender}/{path}", data=data,
                                     allow_redirects=False)
            assert reply.status_code == 403, (path, data)
    assert listing(known)["greet_only"]["manual_labels"] == []


def test_anonymous_label_requests_are_refused(known):
    sender = known.senders["greet_only"]
    token = csrf_of(known.staff.get(f"{known.url}/conversations/{sender}").text)
    for path in ("labels", "labels/remove"):
        reply = requests.post(f"{known.url}/conversations/{sender}/{path}",
                              data={"label": "anonymous", "csrf": token}, allow_redirects=False)
        assert reply.status_code == 302 and reply.headers["location"].startswith("/login")
        reply = requests.post(f"{known.url}/conversations/{sender}/{path}",
                              headers={"Accept": "application/json"},
                              data={"label": "anonymous", "csrf": token}, allow_redirects=False)
        assert reply.status_code == 401
    assert listing(known)["greet_only"]["labels"] == []


@pytest.mark.parametrize("label, message", [
    ("", "a label must be"), ("x" * 41, "a label must be"), ("<script>", "a label must be"),
    ("-dash first", "a label must be"), ("a/b", "a label must be"),
    ("fallback", "is an automatic label"), ("Non-English", "is an automatic label"),
])
def test_bad_labels_are_refused(known, label, message):
    sender = known.senders["greet_only"]
    token = csrf_of(known.staff.get(f"{known.url}/conversations/{sender}").text)
    for path in ("labels", "labels/remove"):
        reply = known.staff.post(f"{known.url}/conversations/{sender}/{path}",
                                 data={"csrf": token, "label": label})
        assert reply.status_code == 400 and message in reply.text, (path, label)
        assert "<script>" not in reply.text
    assert known.staff.get(known.url + "/conversations.json?label=a/b").status_code == 400
    assert known.staff.post(f"{known.url}/conversations/nobody/labels",
                            data={"csrf": token, "label": "x"}).status_code == 404


def test_labels_are_in_the_exports(known):
    sender = known.senders["spanish"]
    token = csrf_of(known.staff.get(f"{known.url}/conversations/{sender}").text)
    known.staff.post(f"{known.url}/conversations/{sender}/labels",
                     data={"csrf": token, "label": "interpreter"})
    csv_text = known.staff.get(known.url + "/export/conversations.csv?label=interpreter").text
    assert csv_text.splitlines()[0].endswith(",reviewed,labels")
    assert csv_text.splitlines()[1].endswith(",False,not helpful; non-English; interpreter")
    exported = known.staff.get(known.url + "/export/conversations.json?label=non-English").json()
    assert [r["labels"] for r in exported] == [["not helpful", "non-English", "interpreter"]]


# --- In Chromium, at 360 px ---------------------------------------------------------------------

LABEL_BOXES = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const frame = svg.getBoundingClientRect();
  const boxes = [...svg.querySelectorAll('text')].map(t => t.getBoundingClientRect());
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)
      overlaps.push([i, boxes.indexOf(b)]);
  }));
  const outside = boxes.filter(b => b.left < frame.left - 0.5 || b.right > frame.right + 0.5);
  const scale = frame.width / svg.viewBox.baseVal.width;
  return {chart: svg.getAttribute('aria-labelledby'), texts: boxes.length, overlaps,
          outside: outside.length, fontPx: parseFloat(svg.getAttribute('font-size')) * scale};
})"""


def test_the_home_page_on_a_phone(known, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 360, "height": 740})
    errors = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(known.url + "/")
        expect(page).to_have_url(known.url + "/login?next=/")
        page.get_by_label("User name").fill("staff")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name=f"Today, {known.today.isoformat()}")).to_be_visible()
        expect(page.get_by_role("img", name="Conversations per day")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
        charts = page.evaluate(LABEL_BOXES)
        assert len(charts) == 5
        for chart in charts:
            assert chart["texts"] and chart["overlaps"] == [] and chart["outside"] == 0, chart
            assert chart["fontPx"] >= 11, chart  # readable at 360 px
        assert serious_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "6-home-360.png"), full_page=True)

        page.get_by_text("The numbers per day").click()  # the table, without a script
        expect(page.get_by_role("row", name=f"{known.today.isoformat()} 6")).to_be_visible()
        yesterday = (known.today - timedelta(days=1)).isoformat()
        page.get_by_label("From", exact=True).fill(yesterday)
        page.get_by_label("To", exact=True).fill(yesterday)
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"/\?from=.*&to="))
        expect(page.get_by_text("2 conversations in 1 day")).to_be_visible()
        assert serious_violations(page) == []

        page.get_by_role("link", name="Conversations", exact=True).click()
        page.locator("select[name=label]").select_option("non-English")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("tbody tr")).to_have_count(1)
        page.locator("tbody tr a").first.click()
        page.get_by_label("New label").fill("needs interpreter")
        page.get_by_role("button", name="Add label").click()
        expect(page.locator(".labels .badge-label", has_text="needs interpreter")).to_be_visible()
        assert serious_violations(page) == []
        page.screenshot(path=str(ARTIFACTS / "7-labels-360.png"), full_page=True)
        page.get_by_role("button", name="Remove the label needs interpreter").click()
        expect(page.locator(".labels .badge-label", has_text="needs interpreter")).to_have_count(0)
        assert not errors, errors
    finally:
        context.close()


# --- A console.db from before the home page and labels -------------------------------------------

def test_a_console_db_from_before_gets_the_new_tables_columns_and_indexes(known, tmp_path_factory):
    """console.db as the release before left it (no verdicts, no labels, no not_helpful or
    non_english columns, no covering indexes): on start the columns and indexes are added, the
    summary is rebuilt from the events, staff marks stay."""
    from tests.console.conftest import console_cli, copy_tracker
    workdir = unique_dir(tmp_path_factory, "console_home_upgrade")
    tracker = copy_tracker(known.tracker_db, workdir / "tracker.db")
    env = {"CONSOLE_TIMEZONE": ZONE}
    console_cli(workdir, tracker, "create-user", "kim", "--password-stdin", stdin=PASSWORD + "\n")
    dbs = Databases(sqlite_url(tracker, read_only=True), sqlite_url(workdir / "console.db"))
    indexer.index_all(dbs)
    queries.save_review(dbs, known.senders["spanish"], True, "called back", "kim")
    dbs.console.dispose()
    with sqlite3.connect(workdir / "console.db") as db:
        for index in ("ix_console_conv_home", "ix_console_conv_not_helpful",
                      "ix_console_conv_non_english", "ix_console_messages_time_intent"):
            db.execute(f"DROP INDEX {index}")
        for column in ("not_helpful", "non_english"):
            db.execute(f"ALTER TABLE console_conversations DROP COLUMN {column}")
        for table in ("console_verdicts", "console_labels"):
            db.execute(f"DROP TABLE {table}")
    running = start_console(workdir, tracker, user=None, env=env)
    try:
        staff = running.login("kim")
        data = staff.get(running.url + "/home.json").json()
        assert data["totals"] == EXPECTED_TOTALS
        assert data["verdicts"]["verdicts"] == EXPECTED_VERDICTS["verdicts"]
        rows = {known.names[r["sender_id"]]: r for r in staff.get(
            running.url + "/conversations.json").json()["conversations"]}
        assert rows["spanish"]["labels"] == ["not helpful", "non-English"]
        assert rows["spanish"]["reviewed"] is True
        sender = known.senders["spanish"]
        token = csrf_of(staff.get(f"{running.url}/conversations/{sender}").text)
        assert staff.post(f"{running.url}/conversations/{sender}/labels",
                          data={"csrf": token, "label": "kept"}).status_code == 200
    finally:
        running.stop()
    with sqlite3.connect(workdir / "console.db") as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(console_conversations)")}
        indexes |= {row[1] for row in db.execute("PRAGMA index_list(console_messages)")}
    assert {"ix_console_conv_home", "ix_console_conv_not_helpful", "ix_console_conv_non_english",
            "ix_console_messages_time_intent"} <= indexes
    log = (workdir / "console.log").read_text()
    assert log.count("console.db upgraded (added console_conversations.not_helpful, "
                     "console_conversations.non_english): the summary is rebuilt") == 1
