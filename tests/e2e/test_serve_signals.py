"""`python -m scripts.serve` (what `make run` runs) stops every server it started when it gets
SIGTERM, as from `kill`, systemd or docker stop, whether the servers are all up or still
starting: no server is left running without its parent. A server that dies is restarted."""
import os
import queue
import secrets
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Set

import pytest
import requests

from scripts.serve import BIN, ROOT, free_port, server_env


def descendants(pid: int) -> Set[int]:
    """Every process below `pid` (Linux /proc)."""
    found: Set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found |= {child} | descendants(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


class Launcher:
    """scripts.serve on free ports, with its token, logs and databases in a temporary folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.ports = {name: free_port() for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT",
                                                      "CONSOLE_PORT")}
        env = server_env({
            **{name: str(port) for name, port in self.ports.items()},
            "TRACKER_DB": str(tmp_path / "tracker.db"),
            "VAR_DIR": str(tmp_path / "var"),
            "CONSOLE_DB_URL": f"sqlite:///{tmp_path / 'console.db'}",
            "CONSOLE_SECRET": secrets.token_urlsafe(32),
            "PYTHONUNBUFFERED": "1",
        })
        self.process = subprocess.Popen(
            [str(BIN / "python"), "-m", "scripts.serve"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.output: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, start: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.process.poll() is None, "".join(self.output)
                continue
            self.output.append(line)
            if line.startswith(start):
                return
        pytest.fail(f"no line starting {start!r} within {timeout:.0f} s: {''.join(self.output)}")

    def kill_everything(self) -> None:
        for pid in descendants(self.process.pid) | {self.process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()


@pytest.fixture
def launcher(tmp_path):
    started = Launcher(tmp_path)
    yield started
    started.kill_everything()  # only if the test failed half-way


def assert_everything_stops_on_sigterm(launcher: Launcher, servers: int) -> None:
    children = descendants(launcher.process.pid)
    assert len(children) >= servers, children
    launcher.process.send_signal(signal.SIGTERM)
    assert launcher.process.wait(timeout=90) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)], "servers left running"


def test_sigterm_when_ready_stops_every_server(launcher):
    launcher.wait_for("Ready.", timeout=240)
    # the action server, the Rasa server, the demo page and the console
    assert_everything_stops_on_sigterm(launcher, servers=4)


def test_sigterm_during_start_up_stops_the_servers_already_started(launcher):
    launcher.wait_for("Starting the Rasa server", timeout=120)  # the action server is up
    assert_everything_stops_on_sigterm(launcher, servers=1)


def child_running(launcher: Launcher, module: str) -> int:
    """The pid of the launcher's child whose command line names `module`."""
    for pid in descendants(launcher.process.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if module in command:
            return pid
    raise AssertionError(f"no child runs {module}")


def test_a_server_that_dies_is_restarted(launcher):
    launcher.wait_for("Ready.", timeout=240)
    ports = launcher.ports
    for name, module in (("actions", "actions.server"), ("rasa", "scripts.rasa_server"),
                         ("web", "web/serve.py"), ("console", "console serve")):
        os.kill(child_running(launcher, module), signal.SIGKILL)
        launcher.wait_for(f"The {name} server exited", timeout=30)
        launcher.wait_for(f"The {name} server is back.", timeout=180)
    sender = secrets.token_hex(16)
    reply = requests.post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook",
                          json={"sender": sender, "message": "does it hurt"}, timeout=60)
    assert "cold" in reply.json()[0]["text"].lower()  # the Rasa and action servers answer
    assert requests.get(f"http://127.0.0.1:{ports['WEB_PORT']}/", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{ports['CONSOLE_PORT']}/login", timeout=10).ok
    assert launcher.process.poll() is None


def test_private_files_are_readable_by_the_owner_only(launcher, tmp_path):
    launcher.wait_for("Ready.", timeout=240)
    for path in (tmp_path / "tracker.db", tmp_path / "var" / "api-token",
                 tmp_path / "var" / "endpoints.yml", tmp_path / "var" / "rasa.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
