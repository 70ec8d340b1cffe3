"""Starts the action server, the Rasa server and (optionally) the demo web page, waits until
they answer, and stops them; under `make run`, also supervises them.

`make run` (scripts/run.sh) uses it to serve in the foreground; the end-to-end tests and the
benchmark use the same functions to start real servers on free loopback ports.

Secrets (the Rasa API token, the action server's token) reach the servers through their
environment, never their command line; the action server and every private server listen on
loopback; files with conversations or secrets are created with mode 600.
"""
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml

from scripts.endpoints import render

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"

# For load tests and benchmarks, whose visitors all come from one address at machine speed and
# reuse test phone numbers: Servers(**LOAD_TEST) lifts the visitor limits of the REST channel
# and of the callback form (actions/callback_form.py).
LOAD_TEST = {
    "channel_settings": {"messages_per_minute_per_sender": 10 ** 6,
                         "messages_per_minute_per_address": 10 ** 6},
    "action_env": {"CALLBACKS_PER_HOUR_PER_SENDER": "1000000",
                   "CALLBACKS_PER_HOUR_PER_ADDRESS": "1000000",
                   "CALLBACKS_PER_DAY_PER_PHONE": "1000000"},
}

# Supervision under `make run`: a server that exits is restarted after a growing wait; one that
# keeps exiting makes the launcher exit non-zero, for systemd (or the operator) to act.
RESTART_DELAYS = (1, 2, 4, 8, 16, 30)
MAX_RESTARTS = 5  # within RESTART_WINDOW seconds
RESTART_WINDOW = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
    )
    env.update(extra or {})
    return env


def wait_until_up(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not up after {timeout:.0f} s")


def stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def private_file(path: Path) -> None:
    """Creates the file with mode 600 if it is missing (SQLite gives its -wal and -shm files the
    database file's mode), and takes away group and other rights if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


def use_write_ahead_log(database: Path) -> None:
    """Puts the SQLite tracker store in WAL mode (it stays so in the file): readers, such as the
    console, no longer block Rasa's writes, and a commit appends instead of rewriting pages."""
    private_file(database)
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


@dataclass
class Servers:
    """One action server and one Rasa server, with their ports, database and API token; with a
    web_port, also the demo page and chat widget (web/serve.py), whose origin is then the only
    one the Rasa server's CORS allows."""

    rasa_port: int
    action_port: int
    tracker_db: Path
    workdir: Path
    model: Path = ROOT / "models" / "clinic.tar.gz"
    # The endpoints the Rasa server's copy is rendered from (scripts/endpoints.py): the SQLite
    # store of `make run`, or deploy/endpoints.yml for the cluster (scripts/cluster.py).
    endpoints_source: Path = ROOT / "endpoints.yml"
    credentials: Path = ROOT / "credentials.yml"  # the benchmark's starter bot has its own
    # Overrides for the REST channel's settings in credentials.yml (for load tests, whose
    # visitors all come from one address): e.g. {"messages_per_minute_per_address": 10**6}.
    channel_settings: Optional[Dict[str, Any]] = None
    action_env: Optional[Dict[str, str]] = None  # extra environment for the action server
    api_token: str = ""
    action_token: str = ""
    host: str = "127.0.0.1"
    log_dir: Optional[Path] = None
    env: Optional[Dict[str, str]] = None
    actions: Optional[subprocess.Popen] = None
    rasa: Optional[subprocess.Popen] = None
    # The front-desk console (console/), started only by start_console().
    console_port: Optional[int] = None
    console: Optional[subprocess.Popen] = None
    web_port: Optional[int] = None
    web_origin: str = ""  # as the browser sees it; default http://127.0.0.1:<web_port>
    public_rasa_url: str = ""  # the Rasa server as the browser sees it; default rasa_url
    web: Optional[subprocess.Popen] = None

    def __post_init__(self) -> None:
        if self.web_port and not self.web_origin:
            self.web_origin = f"http://127.0.0.1:{self.web_port}"
        self.public_rasa_url = self.public_rasa_url or self.rasa_url
        self.api_token = self.api_token or secrets.token_urlsafe(24)
        self.action_token = self.action_token or secrets.token_urlsafe(24)

    @property
    def spool_db(self) -> Path:
        return self.workdir / "tracker-spool.db"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def _spawn(
        self, name: str, args: List[str], extra_env: Optional[Dict[str, str]] = None
    ) -> subprocess.Popen:
        log = subprocess.DEVNULL
        if self.log_dir is not None:
            log = open(self.log_dir / f"{name}.log", "ab")
        env = server_env(dict(self.env or {}, **(extra_env or {})))
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)

    def start_actions(self, timeout: float = 60) -> None:
        self.actions = self._spawn(
            "actions",
            [str(BIN / "python"), "-m", "actions.server", "--port", str(self.action_port)],
            {"ACTION_SERVER_TOKEN": self.action_token, "ACTION_HOST": "127.0.0.1",
             **(self.action_env or {})},
        )
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", self.actions, timeout)

    def start_rasa(self, timeout: float = 120) -> None:
        private_file(self.spool_db)
        endpoints = self.workdir / "endpoints.yml"
        rendered = render(
            self.endpoints_source,
            f"http://127.0.0.1:{self.action_port}/webhook",
            str(self.tracker_db),
            str(self.spool_db),
        )
        if rendered["tracker_store"].get("dialect", "sqlite") == "sqlite":
            use_write_ahead_log(self.tracker_db)
        endpoints.write_text(yaml.safe_dump(rendered, sort_keys=False), encoding="utf-8")
        credentials = self.credentials
        if self.channel_settings:
            settings = yaml.safe_load(credentials.read_text(encoding="utf-8"))
            channel = "channels.rest.ClinicRestInput"
            settings[channel] = dict(settings.get(channel) or {}, **self.channel_settings)
            credentials = self.workdir / "credentials.yml"
            credentials.write_text(yaml.safe_dump(settings), encoding="utf-8")
        self.rasa = self._spawn(
            "rasa",
            [
                str(BIN / "python"), "-m", "scripts.rasa_server",
                "--model", str(self.model),
                "--interface", self.host,
                "--port", str(self.rasa_port),
                "--endpoints", str(endpoints),
                "--credentials", str(credentials),
            ]
            # Browsers may call the webhook from the demo page's origin only, never from "*".
            + (["--cors", self.web_origin] if self.web_origin else []),
            {"RASA_API_TOKEN": self.api_token, "ACTION_SERVER_TOKEN": self.action_token,
             "WEB_ORIGIN": self.web_origin},
        )
        wait_until_up(f"{self.rasa_url}/webhooks/rest/", self.rasa, timeout)

    def start_web(self, timeout: float = 30) -> None:
        self.web = self._spawn(
            "web",
            [
                str(BIN / "python"), str(ROOT / "web" / "serve.py"),
                "--host", self.host,
                "--port", str(self.web_port),
                "--rasa-url", self.public_rasa_url,
            ],
        )
        wait_until_up(f"http://127.0.0.1:{self.web_port}/", self.web, timeout)

    def start_console(self, timeout: float = 120, console_db: Optional[Path] = None) -> None:
        """The console on console_port, reading this tracker store; its own tables go in
        console_db (default var/console.db). It indexes existing events before it answers."""
        extra = {"TRACKER_DB": str(self.tracker_db), "TRACKER_SPOOL_DB": str(self.spool_db)}
        if console_db is not None:
            extra["CONSOLE_DB_URL"] = f"sqlite:///{Path(console_db).resolve()}"
        self.console_port = self.console_port or free_port()
        self.console = self._spawn(
            "console",
            [str(BIN / "python"), "-m", "console", "serve", "--port", str(self.console_port)],
            extra,
        )
        wait_until_up(f"http://127.0.0.1:{self.console_port}/login", self.console, timeout)

    def start(self) -> "Servers":
        self.start_actions()
        self.start_rasa()
        if self.web_port:
            self.start_web()
        return self

    def supervise(self) -> None:
        """Runs until a signal ends the process: a server that exits is restarted after a
        growing wait (RESTART_DELAYS); RuntimeError when one exits MAX_RESTARTS times within
        RESTART_WINDOW seconds."""
        supervise({name: (lambda name=name: getattr(self, name), start) for name, start in {
            "actions": self.start_actions, "rasa": self.start_rasa,
            "web": self.start_web, "console": self.start_console}.items()})

    def stop(self) -> None:
        stop(self.console)
        stop(self.web)
        stop(self.rasa)
        stop(self.actions)


def supervise(servers: Dict[str, Tuple[Callable[[], Optional[subprocess.Popen]],
                                        Callable[[], None]]]) -> None:
    """Runs until a signal ends the process. `servers` maps a name to (its current process,
    its start function); a server whose process exits is restarted after a growing wait
    (RESTART_DELAYS); RuntimeError when one exits MAX_RESTARTS times within RESTART_WINDOW
    seconds. Used by Servers.supervise and by the cluster (scripts/cluster.py)."""
    restarts: Dict[str, List[float]] = {name: [] for name in servers}
    while True:
        time.sleep(1)
        for name, (current, start) in servers.items():
            process = current()
            if process is None or process.poll() is None:
                continue
            now = time.monotonic()
            recent = [at for at in restarts[name] if at > now - RESTART_WINDOW]
            if len(recent) >= MAX_RESTARTS:
                raise RuntimeError(f"the {name} server keeps exiting (code "
                                   f"{process.returncode}, {len(recent)} restarts)")
            delay = RESTART_DELAYS[min(len(recent), len(RESTART_DELAYS) - 1)]
            print(f"The {name} server exited with code {process.returncode}; restarting "
                  f"it in {delay} s.", file=sys.stderr, flush=True)
            time.sleep(delay)
            restarts[name] = recent + [now]
            try:
                start()
            except RuntimeError as error:
                print(f"Restarting the {name} server failed: {error}", file=sys.stderr,
                      flush=True)
            else:
                print(f"The {name} server is back.", flush=True)


def exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM (and SIGINT) end main() through run_supervised's `finally`, which stops the
    servers."""
    raise SystemExit(128 + signum)


def run_supervised(servers: Any, start: Callable[[], None], logs: Path) -> None:
    """The rest of a launcher's main() (this one's and scripts/cluster.py's), once exit_on_signal
    handles SIGTERM and SIGINT: start() starts the servers, then servers.supervise() runs until a
    signal ends the process; a server that keeps exiting (RuntimeError) ends it with code 1,
    pointing at the logs. Whatever happens, servers.stop() stops every server."""
    try:
        start()
        servers.supervise()
    except RuntimeError as error:
        print(f"Stopping: {error}. See the logs in {logs}/.", file=sys.stderr)
        sys.exit(1)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short (stop() kills a server
        # that does not stop within 15 s anyway).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        servers.stop()


def main() -> None:
    """Serves until Ctrl-C or SIGTERM, with ports and paths from the environment (see README);
    VAR_DIR (default var/) takes the API token file and the logs. Servers that exit are
    restarted (Servers.supervise); if one keeps exiting, the launcher exits with code 1.

    SIGTERM and SIGINT get a Python handler before the first server starts, so either one,
    even during start-up, runs run_supervised's `finally` and no server is left orphaned.
    (Blocking them with pthread_sigmask for sigwait would not do: the servers inherit the
    signal mask and would then ignore the SIGINT that stop() sends them.)"""
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    os.umask(0o077)  # logs, databases, rendered endpoints: this user only
    var = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    token = os.environ.get("RASA_API_TOKEN") or secrets.token_urlsafe(24)
    token_file = var / "api-token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    rasa_port = int(os.environ.get("RASA_PORT", 5005))
    web_port = int(os.environ.get("WEB_PORT", 8080))
    servers = Servers(
        rasa_port=rasa_port,
        action_port=int(os.environ.get("ACTION_PORT", 5055)),
        tracker_db=Path(os.environ.get("TRACKER_DB", var / "tracker.db")).resolve(),
        workdir=var,
        api_token=token,
        action_token=os.environ.get("ACTION_SERVER_TOKEN", ""),
        host=os.environ.get("RASA_HOST", "127.0.0.1"),
        log_dir=var,
        console_port=int(os.environ.get("CONSOLE_PORT", 8090)),
        web_port=web_port,
        web_origin=os.environ.get("WEB_ORIGIN", f"http://localhost:{web_port}"),
        public_rasa_url=os.environ.get("RASA_PUBLIC_URL", f"http://localhost:{rasa_port}"),
    )

    def start() -> None:
        print(f"Starting the action server on port {servers.action_port} ...", flush=True)
        servers.start_actions()
        print(f"Starting the Rasa server on port {servers.rasa_port} ...", flush=True)
        servers.start_rasa()
        print(f"Starting the demo page on port {web_port} ...", flush=True)
        servers.start_web()
        print(f"Starting the front-desk console on port {servers.console_port} ...", flush=True)
        servers.start_console()
        print(
            f"Ready. Chat at {servers.webhook} (REST). The HTTP API token is in {token_file}.\n"
            f"Demo page with the chat widget: {servers.web_origin}/\n"
            f"Front-desk console: http://127.0.0.1:{servers.console_port}/ (first staff account:"
            f" make staff-user STAFF=name).\n"
            f"Logs: {var}/actions.log, {var}/rasa.log, {var}/web.log, {var}/console.log. "
            f"Press Ctrl-C to stop.",
            flush=True,
        )

    run_supervised(servers, start, var)


if __name__ == "__main__":
    main()
