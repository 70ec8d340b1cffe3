"""The console beside the running assistant: new conversations show up without a restart, and a
console that has failed logins slows them down."""
import pytest
import requests

from tests.console.conftest import PASSWORD, start_console, unique_dir
from tests.e2e.conftest import chat, new_sender


@pytest.fixture(scope="module")
def console(recorded, tmp_path_factory):
    running = start_console(unique_dir(tmp_path_factory, "console_live"), recorded.tracker_db)
    yield running
    running.stop()


def test_a_new_conversation_appears_on_the_next_request(recorded, console):
    staff = console.login()
    before = staff.get(console.url + "/conversations.json").json()["total"]
    sender = new_sender()
    chat(recorded.servers, sender, "i need to talk to a human being")
    listing = staff.get(console.url + "/conversations.json", params={"handoff": "1"}).json()
    assert sender in {row["sender_id"] for row in listing["conversations"]}
    assert staff.get(console.url + "/conversations.json").json()["total"] == before + 1
    chat(recorded.servers, sender, "can you recommend a good pizza place")
    row = staff.get(f"{console.url}/conversations/{sender}.json").json()["conversation"]
    assert row["unanswered"] and row["handoff"]  # the same conversation, carried on


def test_console_does_not_write_to_rasas_tables(recorded, console):
    import sqlite3
    with sqlite3.connect(recorded.tracker_db) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert not any(name.startswith("console") for name in tables)


def test_repeated_failed_logins_are_slowed_down(recorded, tmp_path_factory):
    """Directly, without a proxy: five failures for one user name from one address hold that
    name up from there, even with the right password; a colleague is not held up.
    (tests/console/test_console_throttle.py has each rule; test_console_proxy.py behind nginx.)"""
    console = start_console(unique_dir(tmp_path_factory, "console_throttle"), recorded.tracker_db,
                            users=("kim",))
    try:
        session = requests.Session()
        for _ in range(5):
            assert console.post_login(session, "staff", "wrong password, again").status_code == 401
        refused = console.post_login(session, "staff", PASSWORD)  # even the right one, for now
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 30
        assert "Too many failed attempts" in refused.text
        assert "console_session=" not in refused.headers.get("set-cookie", "")
        # Another user name from the same address is not held up (20 failures would be).
        assert console.post_login(requests.Session(), "kim", PASSWORD).status_code == 303
        log = (console.workdir / "console.log").read_text()
        assert log.count("failed console login") == 5 and "staff" not in log
    finally:
        console.stop()
