"""Starts the action server, the Rasa server and (optionally) the demo web page, waits until
they answer, and stops them.

`make run` (scripts/run.sh) uses it to serve in the foreground; the end-to-end tests and the
benchmark use the same functions to start real servers on free loopback ports.
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
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))
from scripts.endpoints import render  # noqa: E402  (needs the repo root on sys.path)

import yaml  # noqa: E402

# Sanic accepts 100 MB request bodies by default; a chat message needs a few kB.
MAX_REQUEST_BYTES = 64 * 1024


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
        SANIC_REQUEST_MAX_SIZE=str(MAX_REQUEST_BYTES),
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


def use_write_ahead_log(database: Path) -> None:
    """Puts the SQLite tracker store in WAL mode (it stays so in the file): readers, such as the
    console, no longer block Rasa's writes, and a commit appends instead of rewriting pages."""
    database.parent.mkdir(parents=True, exist_ok=True)
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
    credentials: Path = ROOT / "credentials.yml"  # the benchmark's starter bot has its own
    api_token: str = ""
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
            "actions", [str(BIN / "rasa"), "run", "actions", "--port", str(self.action_port)]
        )
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", self.actions, timeout)

    def start_rasa(self, timeout: float = 120) -> None:
        use_write_ahead_log(self.tracker_db)
        endpoints = self.workdir / "endpoints.yml"
        rendered = render(
            ROOT / "endpoints.yml",
            f"http://127.0.0.1:{self.action_port}/webhook",
            str(self.tracker_db),
        )
        endpoints.write_text(yaml.safe_dump(rendered, sort_keys=False), encoding="utf-8")
        self.api_token = self.api_token or secrets.token_urlsafe(24)
        self.rasa = self._spawn(
            "rasa",
            [
                str(BIN / "rasa"), "run",
                "--model", str(self.model),
                "--interface", self.host,
                "--port", str(self.rasa_port),
                "--endpoints", str(endpoints),
                "--credentials", str(self.credentials),
                "--enable-api", "--auth-token", self.api_token,
            ]
            # Browsers may call the webhook from the demo page's origin only, never from "*".
            + (["--cors", self.web_origin] if self.web_origin else []),
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
        extra = {"TRACKER_DB": str(self.tracker_db)}
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

    def stop(self) -> None:
        stop(self.console)
        stop(self.web)
        stop(self.rasa)
        stop(self.actions)


def exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM (and SIGINT) end main() through its `finally`, which stops the servers."""
    raise SystemExit(128 + signum)


def wait_for_stop_signal() -> None:
    """Sleeps until SIGINT or SIGTERM; exit_on_signal then raises SystemExit."""
    while True:
        signal.pause()


def main() -> None:
    """Serves until Ctrl-C or SIGTERM, with ports and paths from the environment (see README);
    VAR_DIR (default var/) takes the API token file and the logs.

    SIGTERM and SIGINT get a Python handler before the first server starts, so either one,
    even during start-up, runs the `finally` below and no server is left orphaned. (Blocking
    them with pthread_sigmask for sigwait would not do: the servers inherit the signal mask
    and would then ignore the SIGINT that stop() sends them.)"""
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
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
        host=os.environ.get("RASA_HOST", "127.0.0.1"),
        log_dir=var,
        console_port=int(os.environ.get("CONSOLE_PORT", 8090)),
        web_port=web_port,
        web_origin=os.environ.get("WEB_ORIGIN", f"http://localhost:{web_port}"),
        public_rasa_url=os.environ.get("RASA_PUBLIC_URL", f"http://localhost:{rasa_port}"),
    )
    print(f"Starting the action server on port {servers.action_port} ...", flush=True)
    try:
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
        wait_for_stop_signal()
    except RuntimeError as error:
        print(f"Could not start: {error}. See the logs in {var}/.", file=sys.stderr)
        sys.exit(1)
    finally:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short (stop() kills a server
        # that does not stop within 15 s anyway).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        servers.stop()


if __name__ == "__main__":
    main()
