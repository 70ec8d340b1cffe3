"""`make cluster` (scripts/cluster.py) as an operator runs it: two Rasa replicas behind nginx,
PostgreSQL as the tracker store, Redis as the lock store, the action server, the demo page and
the console; conversations held through nginx are in PostgreSQL; SIGTERM stops every process."""
import re
import secrets
import subprocess
import time

import pytest
import requests
from sqlalchemy import text

from scripts.serve import BIN, ROOT, server_env
from tests.cluster.conftest import port_open
from tests.loopback import visitor

QUESTIONS = ["hello", "does cryotherapy hurt?", "how much does it cost?"]


def stored(database, sender: str):
    with database.connect() as db:
        return db.execute(text("SELECT type_name, action_name, data FROM events "
                               "WHERE sender_id = :sender ORDER BY id"), {"sender": sender}).all()


def test_conversations_through_nginx_are_kept_in_postgresql(cluster, database):
    senders = [secrets.token_hex(16) for _ in range(3)]
    for number, sender in enumerate(senders):
        session = visitor(f"127.0.0.{20 + number}")
        for question in QUESTIONS:
            reply = session.post(cluster.webhook, json={"sender": sender, "message": question},
                                 timeout=60)
            assert reply.status_code == 200, reply.text
            assert reply.json() and reply.json()[0].get("text")
    for sender in senders:
        rows = stored(database, sender)
        kinds = [kind for kind, _, _ in rows]
        assert kinds.count("user") == len(QUESTIONS)
        assert kinds.count("session_started") == 1
        assert rows[-1][1] == "action_listen"
    # Each replica's pool stays within SQL_POOL_SIZE + SQL_MAX_OVERFLOW (5 + 5 by default).
    with database.connect() as db:
        connections = db.execute(text("SELECT COUNT(*) FROM pg_stat_activity "
                                      "WHERE usename = 'clinic' AND datname = 'clinic'")).scalar()
    assert connections <= 2 * (5 + 5) + 15 + 1


def test_only_the_chat_is_public_through_nginx(cluster):
    base = f"http://127.0.0.1:{cluster.chat_port}"
    assert requests.get(base + "/webhooks/rest/", timeout=10).json()["status"] == "ok"
    for path in ("/model/parse", "/conversations/x/tracker", "/status", "/"):
        assert requests.get(base + path, params={"token": cluster.api_token},
                            timeout=10).status_code == 404
    # a body bigger than a chat message needs is refused by nginx already
    big = requests.post(cluster.webhook, data="x" * (65 * 1024), timeout=10,
                        headers={"Content-Type": "application/json"})
    assert big.status_code == 413


def test_the_widget_and_console_are_pointed_at_the_cluster(cluster):
    page = requests.get(f"http://127.0.0.1:{cluster.web_port}/", timeout=10)
    chat_origin = f"http://127.0.0.1:{cluster.chat_port}"
    assert chat_origin in page.headers["Content-Security-Policy"]
    assert chat_origin in page.text
    # The browser's CORS preflight, through nginx, is answered for the demo page's origin only.
    origin = f"http://127.0.0.1:{cluster.web_port}"
    preflight = requests.options(cluster.webhook, timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers.get("Access-Control-Allow-Origin") == origin
    # The console reads PostgreSQL: a conversation held through nginx is listed.
    sender = secrets.token_hex(16)
    visitor("127.0.0.30").post(cluster.webhook, json={"sender": sender, "message": "hello"},
                               timeout=60).raise_for_status()
    env = dict(cluster.env, VAR_DIR=str(cluster.var / "cluster"),
               TRACKER_DB_URL=cluster.database_url())
    made = subprocess.run([str(BIN / "python"), "-m", "console", "create-user", "staff",
                           "--password-stdin"], cwd=ROOT, env=server_env(env), timeout=120,
                          input="a long enough staff password\n", capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    console = f"http://127.0.0.1:{cluster.console_port}"
    session = requests.Session()
    login = session.get(console + "/login", timeout=10).text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', login).group(1)
    reply = session.post(console + "/login", allow_redirects=False, timeout=10, data={
        "csrf": token, "username": "staff", "password": "a long enough staff password"})
    assert reply.status_code == 303
    deadline = time.monotonic() + 60
    while True:
        listed = session.get(console + "/conversations.json", timeout=30).json()
        if sender in {c["sender_id"] for c in listed["conversations"]}:
            break
        assert time.monotonic() < deadline, "the console never listed the conversation"
        time.sleep(1)


def test_too_many_sql_connections_are_refused_before_anything_starts(tmp_path):
    env = server_env({"VAR_DIR": str(tmp_path), "RASA_REPLICAS": "3", "SQL_POOL_SIZE": "20",
                      "SQL_MAX_OVERFLOW": "10"})
    done = subprocess.run([str(BIN / "python"), "-m", "scripts.cluster"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Cannot start: 3 replicas x (SQL_POOL_SIZE 20 + SQL_MAX_OVERFLOW 10) = 90" in done.stderr
    assert not (tmp_path / "cluster" / "postgres").exists()


@pytest.mark.stops_cluster
def test_sigterm_stops_every_process_of_the_cluster(cluster):
    ports = [cluster.chat_port, *cluster.replica_ports, cluster.action_port, cluster.web_port,
             cluster.console_port, cluster.postgres_port, cluster.redis_port]
    assert all(port_open(port) for port in ports)
    seconds = cluster.stop()
    assert cluster.process.returncode is not None, "the launcher is still running"
    assert cluster.left == [], f"left running: {cluster.left}"
    assert not [port for port in ports if port_open(port)]
    assert seconds < 60
    assert "database system is shut down" in (
        cluster.var / "cluster" / "logs" / "postgres.log").read_text()
