"""The cluster of `make cluster` (scripts/cluster.py), started once for tests/cluster: the launcher
in a session of its own with RASA_REPLICAS=2, every port free on loopback, VAR_DIR a fresh
directory (PostgreSQL's data directory included). Its PostgreSQL, Redis and action server also
serve the lock store and migration tests.

The test that stops it (marked `stops_cluster`) runs after every other test of tests/cluster."""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pytest

from scripts.serve import BIN, ROOT, free_port, server_env

STOPS_CLUSTER = "stops_cluster"


def pytest_configure(config):
    config.addinivalue_line("markers", f"{STOPS_CLUSTER}: stops the shared cluster of "
                                       "tests/cluster; runs after the other tests there")


def pytest_collection_modifyitems(session, config, items):
    """Moves the tests that stop the cluster after the last other test of tests/cluster."""
    stoppers = [item for item in items
                if "tests/cluster/" in item.nodeid and item.get_closest_marker(STOPS_CLUSTER)]
    for item in stoppers:
        items.remove(item)
    mine = [index for index, item in enumerate(items) if "tests/cluster/" in item.nodeid]
    at = mine[-1] + 1 if mine else len(items)
    items[at:at] = stoppers


def session_processes(sid: int) -> List[str]:
    """Processes still in session `sid` (the launcher's own session and all it started)."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) == sid:
                left.append(f"{entry.name} {(entry / 'comm').read_text().strip()}")
        except (OSError, ProcessLookupError):
            continue
    return left


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningCluster:
    var: Path
    env: dict
    process: subprocess.Popen
    chat_port: int
    replica_ports: List[int]
    action_port: int
    web_port: int
    console_port: int
    postgres_port: int
    redis_port: int
    api_token: str
    action_token: str
    output: Path
    stopped: Optional[float] = None
    left: List[str] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.chat_port}/webhooks/rest/webhook"

    def replica_url(self, number: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[number]}"

    def secret(self, name: str) -> str:
        return (self.var / "cluster" / name).read_text(encoding="utf-8").strip()

    def database_url(self, database: str = "clinic", admin: bool = False) -> str:
        from sqlalchemy.engine import URL

        user, password = (("postgres", self.secret("postgres-admin-password")) if admin else
                          ("clinic", self.secret("tracker-db-password")))
        return URL.create("postgresql", user, password, "127.0.0.1", self.postgres_port,
                          database).render_as_string(hide_password=False)

    def create_database(self, name: str) -> str:
        """A fresh database owned by the application's role; its URL."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.postgres_port, user="postgres",
                                      password=self.secret("postgres-admin-password"),
                                      dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}" OWNER clinic')
        connection.close()
        return self.database_url(name)

    def stop(self, timeout: float = 90) -> float:
        """SIGTERM to the launcher, as systemd or Ctrl-C would; the seconds it took."""
        if self.stopped is not None:
            return self.stopped
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.stopped = time.monotonic() - started
        time.sleep(0.5)
        self.left = session_processes(self.process.pid)
        return self.stopped

    def kill_leftovers(self) -> None:
        if self.process.poll() is None or session_processes(self.process.pid):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # the session we started, only
            except ProcessLookupError:
                pass
            self.process.wait()


@pytest.fixture(scope="session")
def cluster():
    """`make cluster`'s launcher with two replicas. VAR_DIR is under /tmp: the postgres user,
    which PostgreSQL runs as when we are root, must reach its data directory."""
    var = Path(tempfile.mkdtemp(prefix="clinic-cluster-test-"))
    ports = [free_port() for _ in range(9)]
    api_token, action_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    env = server_env({
        "VAR_DIR": str(var), "RASA_REPLICAS": "2", "RASA_PORT": str(ports[0]),
        "RASA_REPLICA_PORTS": f"{ports[1]},{ports[2]}", "ACTION_PORT": str(ports[3]),
        "WEB_PORT": str(ports[4]), "CONSOLE_PORT": str(ports[5]),
        "POSTGRES_PORT": str(ports[6]), "REDIS_PORT": str(ports[7]),
        "WEB_ORIGIN": f"http://127.0.0.1:{ports[4]}",
        "RASA_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
        "RASA_API_TOKEN": api_token, "ACTION_SERVER_TOKEN": action_token,
    })
    output = var / "launcher.out"
    process = subprocess.Popen([str(BIN / "python"), "-m", "scripts.cluster"], cwd=ROOT,
                               env=env, stdout=open(output, "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    running = RunningCluster(var, env, process, ports[0], ports[1:3], ports[3], ports[4],
                             ports[5], ports[6], ports[7], api_token, action_token, output)
    try:
        deadline = time.monotonic() + 300
        while b"Ready." not in output.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the cluster did not start:\n" + output.read_text(errors="replace"))
            time.sleep(0.5)
        yield running
    finally:
        running.stop()
        running.kill_leftovers()
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture(scope="session")
def database(cluster):
    """A SQLAlchemy engine on the cluster's tracker store (PostgreSQL)."""
    from sqlalchemy import create_engine

    engine = create_engine(cluster.database_url(), future=True)
    yield engine
    engine.dispose()
