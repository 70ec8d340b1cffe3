"""The console's tests run against a real tracker store: the real action server and Rasa server
are started once per test session, the conversations below are driven through the REST channel,
and each test module points a real console process at that SQLite file (or at a copy of it).
PostgreSQL's tests (and bench/console_scale.py --postgres) start a scratch server of their own:
scratch_postgres()."""
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

import pytest
import requests

from scripts.cluster import Postgres, postgres_bin
from scripts.serve import BIN, ROOT, Servers, free_port, server_env
from tests.e2e.conftest import chat, new_sender, start_servers

PASSWORD = "a long enough staff password"
SCRIPT = "<script>alert('xss')</script>"
# The one script tag a logged-in page has: the console's own (console/static/console.js).
OWN_SCRIPT = '<script src="/console.js" defer></script>'


def foreign_scripts(html: str) -> bool:
    """Whether a page has a script tag other than the console's own."""
    return "<script" in html.replace(OWN_SCRIPT, "")
# What each scenario says, through the REST channel. The phrasing of the handoff, emergency and
# out-of-scope lines is what tests/e2e relies on for those answers. Three callback requests:
# two from Jane's number typed differently ("callback" is the later one), one from Dana.
SCENARIOS = {
    "callback_earlier": ["is cryotherapy safe for me", "could I make an appointment for next week",
                         "yes", "Jane Doe", "+1 314 555 0142", "friday after 3pm", "yes"],
    "callback_other": ["how long is a session", "I want to book an appointment", "yes",
                       "Dana Whitfield", "636.555.0188", "tuesday after lunch", "yes"],
    "callback": ["hi there", "what does a cryotherapy session cost me",
                 "I want to book an appointment", "yes",
                 f"Jane {SCRIPT} Doe", "314-555-0142", "weekday mornings", "yes"],
    "unanswered": ["can you recommend a good pizza place", "can you recommend a pizza place",
                   "who won the football game last night"],
    "emergency": ["since this morning I have no control over my bladder"],
    # Safety triage (issue 9): a red flag in an unclear context is `possible` (the bot shows a
    # safety line first); the second conversation then has an emergency, too.
    "possible": ["does cryotherapy help if I have a fever?"],
    "possible_then_emergency": ["I had cancer years ago, is cryotherapy ok for my back?",
                                "since this morning I have no control over my bladder"],
    "handoff": ["please let me speak with a staff member", "no"],
    "xss": [f"{SCRIPT} does cryotherapy hurt?"],
    "personal": ["my number is 636 555 0177 and my email is jane.doe@example.com, "
                 "so what exactly is cryotherapy"],
    "old": ["so what exactly is cryotherapy"],
    # Visitors' verdicts (actions/verdicts.py), as the widget's buttons send them: "Not helpful"
    # and a reason are recorded; a second verdict on the same answer is not.
    "verdict": ["what does a cryotherapy session cost me",
                '/rate_answer{"answer":"ask_cost","verdict":"not_helpful"}',
                '/explain_verdict{"answer":"ask_cost","reason":"did_not_answer"}',
                '/rate_answer{"answer":"ask_cost","verdict":"helpful"}'],
}


@dataclass
class Recorded:
    servers: Servers
    senders: Dict[str, str] = field(default_factory=dict)

    @property
    def tracker_db(self) -> Path:
        return self.servers.tracker_db


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """The running assistant, with every scenario's conversation in its tracker store."""
    servers = start_servers(tmp_path_factory, "console_assistant")
    try:
        found = Recorded(servers)
        for name, messages in SCENARIOS.items():
            sender = new_sender()
            for message in messages:
                chat(servers, sender, message)
            found.senders[name] = sender
        yield found
    finally:
        servers.stop()


def copy_tracker(source: Path, target: Path) -> Path:
    """A consistent copy of a live SQLite tracker store (SQLite's backup API)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def age(tracker_db: Path, sender: str, days: float) -> None:
    """Moves one recorded conversation `days` into the past (a copy only: tests of date filters
    and retention need old conversations, and the REST channel stamps events with the time)."""
    with sqlite3.connect(tracker_db) as db:
        db.execute("UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?",
                   (days * 86400, sender))


def replay(tracker_db: Path, sender: str, at: Optional[float] = None) -> str:
    """Writes a recorded conversation again into `tracker_db` (a copy), as a new conversation
    happening now: every one of its events, as the Rasa server wrote them, under a new sender
    id with new event ids, its times moved to start at `at` (default now). Returns the new
    sender id. (A conversation through the running assistant would land in the shared store,
    which other modules copy and count.)"""
    new = new_sender()
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute("SELECT type_name, timestamp, intent_name, action_name, data FROM events "
                          "WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()
        assert rows, f"no events of {sender}"
        shift = (time.time() if at is None else at) - rows[0][1]
        db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, "
                       "action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                       [(new, kind, stamp + shift, intent, action, data)
                        for kind, stamp, intent, action, data in rows])
    return new


def events_of(tracker_db: Path, sender: str):
    with sqlite3.connect(tracker_db) as db:
        return db.execute("SELECT type_name, action_name, intent_name FROM events "
                          "WHERE sender_id = ? ORDER BY id", (sender,)).fetchall()


def console_cli(workdir: Path, tracker_db: Path, *args: str, stdin: str = "",
                check: bool = True, env: Optional[Dict[str, str]] = None
                ) -> subprocess.CompletedProcess:
    env = server_env(dict(console_env(workdir, tracker_db), **(env or {})))
    result = subprocess.run([str(BIN / "python"), "-m", "console", *args], cwd=ROOT, env=env,
                            input=stdin, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def console_env(workdir: Path, tracker_db: Path) -> Dict[str, str]:
    """Everything in `workdir`: nothing read from or written to the repo's var/ (the spool
    there may be a running assistant's), and no proxy trusted."""
    return {"TRACKER_DB": str(tracker_db),
            "CONSOLE_DB_URL": f"sqlite:///{workdir / 'console.db'}",
            "CONSOLE_SECRET": "test-secret-" + workdir.name,
            "VAR_DIR": str(workdir),
            "TRACKER_SPOOL_DB": str(workdir / "tracker-spool.db"),
            "CONSOLE_TRUSTED_PROXIES": ""}


@dataclass
class Console:
    servers: Servers
    workdir: Path
    tracker_db: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.servers.console_port}"

    def login(self, username: str = "staff", password: str = PASSWORD) -> requests.Session:
        session = requests.Session()
        reply = self.post_login(session, username, password)
        assert reply.status_code == 303, reply.text
        return session

    def post_login(self, session, username, password, token: Optional[str] = None):
        page = session.get(self.url + "/login")
        token = csrf_of(page.text) if token is None else token
        return session.post(self.url + "/login", allow_redirects=False,
                            data={"csrf": token, "username": username, "password": password})

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return console_cli(self.workdir, self.tracker_db, *args, **kwargs)

    def stop(self) -> None:
        self.servers.stop()


def start_console(workdir: Path, tracker_db: Path, user: Optional[str] = "staff",
                  env: Optional[Dict[str, str]] = None, users: Tuple[str, ...] = ()) -> Console:
    """A console process reading `tracker_db`, with its own tables in `workdir`, the user `user`
    (and `users`, all with PASSWORD; user=None: no account created), and `env` added to its
    environment."""
    for name in ((user,) if user else ()) + tuple(users):
        console_cli(workdir, tracker_db, "create-user", name, "--password-stdin",
                    stdin=PASSWORD + "\n")
    env = dict(console_env(workdir, tracker_db), **(env or {}))
    servers = Servers(rasa_port=0, action_port=0, tracker_db=tracker_db, workdir=workdir,
                      log_dir=workdir, env=env)
    servers.start_console(console_db=workdir / "console.db")
    return Console(servers, workdir, tracker_db)


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def unique_dir(tmp_path_factory, name: str) -> Path:
    return tmp_path_factory.mktemp(f"{name}_{secrets.token_hex(3)}")


def console_on_a_copy(recorded, tmp_path_factory, name: str) -> Console:
    """A console over a consistent copy of the recorded tracker store, with the recorded
    scenarios' senders and every conversation in the copy (`everyone`: other modules may have
    added some to the live store before it was copied)."""
    workdir = unique_dir(tmp_path_factory, name)
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    running = start_console(workdir, tracker)
    running.senders = recorded.senders
    with sqlite3.connect(tracker) as db:
        running.everyone = {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events")}
    return running


def postgres_missing() -> Optional[str]:
    """Why no scratch PostgreSQL can be started here (its binaries are missing), else None."""
    try:
        postgres_bin()
    except RuntimeError as missing:
        return str(missing)
    return None


@dataclass
class ScratchPostgres:
    """A PostgreSQL server of our own (scripts/cluster.Postgres, as `make cluster` starts it):
    127.0.0.1 on a free port, password logins only, its data in a fresh directory under /tmp
    (as root it runs as the `postgres` user, which must reach it)."""

    server: Postgres
    base: Path
    passwords: Dict[str, str] = field(default_factory=dict)  # role -> its password

    def admin_connection(self, database: str = "postgres"):
        """A psycopg2 connection as the superuser, in autocommit (server.admin() gives a
        cursor that closes its connection)."""
        connection = self.server.connect(database)
        connection.autocommit = True
        return connection

    def database(self, name: str, owner: str = "console") -> str:
        """A fresh database (dropped first if there) owned by `owner`, a role that is not a
        superuser (made if missing): the URL to log in as it."""
        password = self.passwords.setdefault(owner, secrets.token_urlsafe(18))
        with self.server.admin() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        self.server.ensure_database(owner, password, name)
        return self.server.url(owner, password, name)

    def role(self, name: str) -> str:
        """A login role that is not a superuser and owns nothing (made if missing); its
        password."""
        password = self.passwords.setdefault(name, secrets.token_urlsafe(18))
        self.server.ensure_role(name, password)
        return password

    def url(self, user: str, database: str) -> str:
        return self.server.url(user, self.passwords[user], database)


@contextmanager
def scratch_postgres(prefix: str = "clinic-console-pg-") -> Iterator[ScratchPostgres]:
    """Starts a scratch PostgreSQL (RuntimeError naming scripts/system_packages.sh when its
    binaries are missing); stops it and deletes its data on the way out."""
    missing = postgres_missing()
    if missing:
        raise RuntimeError(missing)
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = Postgres(base / "data", free_port(), base / "postgres.log",
                      secrets.token_urlsafe(24), owned=base)
    try:
        server.init()
        server.start()
        yield ScratchPostgres(server, base)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
