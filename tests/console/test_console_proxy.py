"""The console behind a real nginx on loopback, as in a deployment where staff reach it through a
reverse proxy: visitors are told apart by the loopback address they connect from (127.0.0.2,
127.0.0.3, ...), and nginx adds what it saw to X-Forwarded-For.

Two consoles over the same tracker store, each behind its own nginx server block:
- `trusted`: CONSOLE_TRUSTED_PROXIES=127.0.0.1 (nginx's address as the console sees it). Each
  visitor is counted under their own address: an attacker guessing alice's password is held up,
  alice and bob are not.
- `untrusted`: CONSOLE_TRUSTED_PROXIES unset. The console sees only the proxy's address
  (127.0.0.1) for everybody, so one attacker's failures for alice hold alice up too, wherever she
  is. That is why a console behind a proxy needs CONSOLE_TRUSTED_PROXIES.
"""
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from scripts.cluster import nginx_conf
from scripts.serve import BIN, ROOT, free_port, server_env, wait_until_up
from tests.console.conftest import PASSWORD, console_env, csrf_of, start_console, unique_dir
from tests.loopback import visitor

NGINX = "/usr/sbin/nginx"
PROXY = "127.0.0.1"  # nginx connects to the console from here
ATTACKER, ALICE, BOB = "127.0.0.2", "127.0.0.3", "127.0.0.4"
# Inside nginx's http block (scripts/cluster.nginx_conf): one server per console.
SERVER = """\
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
"""


class Nginx:
    """nginx in the foreground with a generated configuration: one listening port per console."""

    def __init__(self, workdir: Path, upstreams):
        if not Path(NGINX).exists():
            pytest.fail("nginx is missing: apt-get install nginx (make setup does it as root)")
        self.workdir = workdir
        self.ports = [free_port() for _ in upstreams]
        servers = "".join(SERVER.format(port=port, upstream=upstream)
                          for port, upstream in zip(self.ports, upstreams))
        # As root, nginx's workers would otherwise switch to "nobody", who cannot use this dir.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = workdir / "nginx.conf"
        conf.write_text(nginx_conf(workdir, servers, user))
        self.process = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=open(workdir / "nginx.out", "wb"))
        try:
            for port in self.ports:
                wait_until_up(f"http://127.0.0.1:{port}/login", self.process, 30)
        except RuntimeError:
            self.stop()
            raise

    def url(self, number: int) -> str:
        return f"http://127.0.0.1:{self.ports[number]}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful shutdown of the master we started
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def login(base: str, session: requests.Session, username: str, password: str,
          headers=None) -> requests.Response:
    token = csrf_of(session.get(base + "/login", headers=headers).text)
    return session.post(base + "/login", allow_redirects=False, headers=headers,
                        data={"csrf": token, "username": username, "password": password})


def logins_seen(console):
    """(user, detail) of each login in the console's audit log, oldest first."""
    with sqlite3.connect(console.workdir / "console.db") as db:
        return db.execute("SELECT actor, detail FROM console_audit WHERE action = ? ORDER BY id",
                          ("login",)).fetchall()


@pytest.fixture(scope="module")
def setup(recorded, tmp_path_factory):
    trusted = start_console(unique_dir(tmp_path_factory, "console_trusted"), recorded.tracker_db,
                            user="alice", users=("bob",),
                            env={"CONSOLE_TRUSTED_PROXIES": PROXY})
    untrusted = start_console(unique_dir(tmp_path_factory, "console_untrusted"),
                              recorded.tracker_db, user="alice", users=("bob",))
    nginx = None
    try:
        nginx = Nginx(unique_dir(tmp_path_factory, "nginx"),
                      [trusted.servers.console_port, untrusted.servers.console_port])
        yield trusted, untrusted, nginx
    finally:
        if nginx:
            nginx.stop()
        trusted.stop()
        untrusted.stop()


def test_an_attacker_is_held_up_but_not_alice_nor_bob(setup):
    trusted, _, nginx = setup
    base = nginx.url(0)
    attacker = visitor(ATTACKER)
    for _ in range(5):
        assert login(base, attacker, "alice", "a guess at her password").status_code == 401
    refused = login(base, attacker, "alice", PASSWORD)  # even the right password, for now
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 30
    assert "Too many failed attempts. Try again in" in refused.text
    assert "console_session" not in refused.headers.get("set-cookie", "")
    # Writing someone else's address into X-Forwarded-For does not help: nginx adds the real one
    # at the right, and that is the one the console takes.
    spoofed = login(base, attacker, "alice", PASSWORD, headers={"X-Forwarded-For": ALICE})
    assert spoofed.status_code == 429

    alice = visitor(ALICE)
    assert login(base, alice, "alice", PASSWORD).status_code == 303
    assert alice.get(base + "/conversations.json").status_code == 200
    bob = visitor(BOB)
    assert login(base, bob, "bob", PASSWORD).status_code == 303
    assert logins_seen(trusted) == [("alice", f"from {ALICE}"), ("bob", f"from {BOB}")]


def test_an_attacker_trying_many_names_is_held_up_and_bob_is_not(setup):
    trusted, _, nginx = setup
    base = nginx.url(0)
    attacker = visitor(ATTACKER)
    # Five failures from the first test, fifteen more here, four or fewer per name.
    for number in range(15):
        assert login(base, attacker, f"staff{number % 4}", "password1234").status_code == 401
    refused = login(base, attacker, "somebody-new", "password1234")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 30
    assert login(base, visitor(BOB), "bob", PASSWORD).status_code == 303


def test_a_successful_login_clears_the_failures_of_that_name_there(setup):
    _, _, nginx = setup
    base = nginx.url(0)
    alice = visitor(ALICE)
    for _ in range(4):
        assert login(base, alice, "alice", "mistyped the password").status_code == 401
    assert login(base, alice, "alice", PASSWORD).status_code == 303
    for _ in range(4):  # eight failures in the window, but the login in between cleared four
        assert login(base, alice, "alice", "mistyped the password").status_code == 401
    assert login(base, alice, "alice", PASSWORD).status_code == 303


def test_the_header_is_ignored_from_anyone_but_a_trusted_proxy(setup):
    trusted, _, _ = setup
    direct = visitor(BOB)  # straight to the console, not through nginx
    reply = login(trusted.url, direct, "bob", PASSWORD, headers={"X-Forwarded-For": "127.0.0.77"})
    assert reply.status_code == 303
    assert logins_seen(trusted)[-1] == ("bob", f"from {BOB}")


def test_without_trusted_proxies_the_console_sees_only_the_proxy(setup):
    _, untrusted, nginx = setup
    base = nginx.url(1)
    bob = visitor(BOB)
    assert login(base, bob, "bob", PASSWORD, headers={"X-Forwarded-For": BOB}).status_code == 303
    assert logins_seen(untrusted) == [("bob", f"from {PROXY}")]  # not 127.0.0.4
    attacker = visitor(ATTACKER)
    for _ in range(5):
        assert login(base, attacker, "alice", "a guess at her password").status_code == 401
    # Everyone is 127.0.0.1 now: alice, at her own desk, waits for the attacker's failures.
    held_up = login(base, visitor(ALICE), "alice", PASSWORD)
    assert held_up.status_code == 429 and 0 < int(held_up.headers["retry-after"]) <= 30
    # bob's name has no failures: he still gets in (until 20 failures hold up the whole desk).
    assert login(base, visitor(BOB), "bob", PASSWORD).status_code == 303


def test_a_malformed_trusted_proxy_setting_stops_the_console_at_start(recorded, tmp_path):
    env = dict(console_env(tmp_path, recorded.tracker_db),
               CONSOLE_TRUSTED_PROXIES="127.0.0.1, proxy.local")
    started = subprocess.run([str(BIN / "python"), "-m", "console", "serve", "--port",
                              str(free_port())], cwd=ROOT, env=server_env(env),
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 1
    assert started.stderr.strip().endswith(
        "Cannot start: CONSOLE_TRUSTED_PROXIES: 'proxy.local' is not an IP address or network.")
