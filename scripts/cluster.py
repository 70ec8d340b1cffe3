"""`make cluster`: the assistant as several Rasa processes, on one machine, on loopback ports.

    nginx (RASA_PORT, the chat address) -> RASA_REPLICAS Rasa servers -> the action server
                                              |                 |
                       PostgreSQL (the tracker store)   Redis (the lock store)
    + the demo page (pointed at nginx) and the front-desk console (reading PostgreSQL)

Everything runs in the foreground under the same supervision as `make run` (scripts/serve.py:
a server that exits is restarted, one that keeps exiting ends the launcher with code 1);
Ctrl-C or SIGTERM stops every process it started. PostgreSQL's data directory (initdb on first
use, as the `postgres` user when run as root), Redis's configuration, the generated passwords
(mode 600), nginx's configuration and every log live under <VAR_DIR>/cluster/.

Each replica's Rasa server is started exactly as `make run` starts one (scripts/serve.Servers),
with deploy/endpoints.yml: conversations in PostgreSQL, and stores/redis_lock.py's lock store,
which serialises each conversation across the replicas. Settings (README, "Deploy"):
RASA_REPLICAS (2), RASA_PORT (5005, nginx), RASA_REPLICA_PORTS (comma-separated; else 5006,
5007, ...), ACTION_PORT (5055), WEB_PORT (8080), CONSOLE_PORT (8090), POSTGRES_PORT (5433),
REDIS_PORT (6380), SQL_POOL_SIZE (5) and SQL_MAX_OVERFLOW (5) per replica, POSTGRES_MAX_CONNECTIONS
(100), WEB_ORIGIN, RASA_PUBLIC_URL, RASA_API_TOKEN, ACTION_SERVER_TOKEN, VAR_DIR.
"""
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from scripts.serve import (
    ROOT, Servers, exit_on_signal, run_supervised, stop, supervise, wait_until_up,
)

ENDPOINTS = ROOT / "deploy" / "endpoints.yml"
DB_NAME = DB_USER = "clinic"
# The console's own engine (SQLAlchemy's default pool: 5 + 10 overflow), and room for psql,
# the migration script and PostgreSQL's superuser reserve.
CONSOLE_CONNECTIONS = 15
SPARE_CONNECTIONS = 10


def secret(path: Path) -> str:
    """A random password kept in `path` (mode 600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text(encoding="utf-8").strip()


def postgres_bin() -> Path:
    """The directory with initdb and postgres: on PATH, else Debian's /usr/lib/postgresql/N/bin
    (the newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0)
    if dirs:
        return Path(dirs[-1])
    raise RuntimeError("PostgreSQL is missing: scripts/system_packages.sh installs it "
                       "(apt-get install postgresql)")


def spawn(args: List[str], log: Path, **options) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, **options)


def wait_for(check, process: subprocess.Popen, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    error: Optional[Exception] = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            check()
            return
        except Exception as failure:  # not up yet
            error = failure
        time.sleep(0.2)
    raise RuntimeError(f"{what} not up after {timeout:.0f} s ({error})")


@dataclass
class Postgres:
    """A PostgreSQL server of our own: data in `data_dir` (initdb on first use), TCP on
    127.0.0.1:port only (no Unix socket), password logins (scram-sha-256) only. As root it runs
    as the `postgres` user, which then needs to reach data_dir: our own directories under
    `owned` are made traversable (o+x, never readable) for it."""

    data_dir: Path
    port: int
    log: Path
    admin_password: str
    owned: Path
    max_connections: int = 100
    process: Optional[subprocess.Popen] = None

    def _user(self) -> Dict[str, object]:
        if os.geteuid() != 0:
            return {}
        account = pwd.getpwnam("postgres")
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _reachable(self) -> None:
        if os.geteuid() != 0:
            return
        uid = pwd.getpwnam("postgres").pw_uid
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if mode & 0o001 or parent.stat().st_uid == uid:
                continue
            if parent == self.owned or self.owned in parent.parents:
                parent.chmod(mode | 0o001)
            else:
                raise RuntimeError(f"the postgres user cannot reach {parent}: choose a VAR_DIR "
                                   f"it can reach (every directory above it o+x)")

    def init(self) -> None:
        self._reachable()
        if (self.data_dir / "PG_VERSION").exists():
            return
        user = self._user()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        password_file = self.data_dir.parent / "postgres-initdb.tmp"
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self.admin_password + "\n")
        try:
            if user:
                os.chown(self.data_dir, user["user"], user["group"])
                os.chown(password_file, user["user"], user["group"])
            done = subprocess.run(
                [str(postgres_bin() / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8",
                 "--no-locale"],
                stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, cwd=self.data_dir,
                **user)
        finally:
            password_file.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed (code {done.returncode}); see {self.log}")

    def url(self, user: str, password: str, database: str) -> str:
        from sqlalchemy.engine import URL
        return URL.create("postgresql", user, password, "127.0.0.1", self.port,
                          database).render_as_string(hide_password=False)

    def start(self, timeout: float = 60) -> None:
        self.process = spawn(
            [str(postgres_bin() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
             "-c", f"max_connections={self.max_connections}"],
            self.log, cwd=self.data_dir, **self._user())
        wait_for(lambda: self.connect("postgres").close(), self.process, "PostgreSQL", timeout)

    def connect(self, database: str):
        import psycopg2
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                password=self.admin_password, dbname=database, connect_timeout=3)

    @contextmanager
    def admin(self, database: str = "postgres") -> Iterator[Any]:
        """A cursor as the superuser, in autocommit; its connection closed on the way out."""
        connection = self.connect(database)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def ensure_role(self, user: str, password: str) -> None:
        """A login role that is not a superuser, made or given `password`."""
        from psycopg2 import sql
        with self.admin() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            cursor.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(
                sql.Identifier(user)), (password,))

    def ensure_database(self, user: str, password: str, database: str) -> None:
        """The application's role (not a superuser) and database, made or updated."""
        from psycopg2 import sql
        self.ensure_role(user, password)
        with self.admin() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if not cursor.fetchone():
                cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(user)))

    def stop(self) -> None:
        stop(self.process)  # SIGINT: PostgreSQL's fast shutdown


@dataclass
class Redis:
    """redis-server on 127.0.0.1:port with a password, nothing saved to disk (the lock store's
    tickets live seconds). Its configuration file (mode 600) holds the password, so it is never
    on a command line."""

    workdir: Path
    port: int
    password: str
    log: Path
    process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 30) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(server).exists():
            raise RuntimeError("redis-server is missing: scripts/system_packages.sh installs it "
                               "(apt-get install redis-server)")
        conf = self.workdir / "redis.conf"
        descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(f'bind 127.0.0.1\nport {self.port}\nprotected-mode yes\n'
                         f'requirepass "{self.password}"\nsave ""\nappendonly no\n'
                         f'dir "{self.workdir}"\ndaemonize no\nlogfile ""\n')
        self.process = spawn([server, str(conf)], self.log)
        wait_for(lambda: self.client().ping(), self.process, "Redis", timeout)

    def client(self, db: int = 0):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, db=db,
                           socket_timeout=3)

    def stop(self) -> None:
        stop(self.process)  # SIGINT: Redis shuts down cleanly


NGINX_CONF = """\
# Generated by scripts/cluster.py; deploy/nginx/clinic-assistant.conf is the one to deploy.
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
{http}}}
"""
# The cluster's front: the chat webhook, spread over the replicas.
CHAT_PROXY = """\
  # A chat message needs a few kB (the Rasa servers refuse more than 64 kB anyway); bodies and
  # replies stay in memory.
  client_max_body_size 64k;
  client_body_buffer_size 64k;
  proxy_max_temp_file_size 0;
  upstream rasa_replicas {{
{servers}
    keepalive 16;
  }}
  server {{
    listen {listen};
    # Only the chat webhook and its health check; Rasa's HTTP API stays on the replicas.
    location = /webhooks/rest/webhook {{
      proxy_pass http://rasa_replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 90s;
      # A replica that refuses the connection is skipped; a message it has received is never
      # sent to another one (nginx does not retry a POST once sent).
      proxy_next_upstream error timeout;
    }}
    location = /webhooks/rest/ {{
      proxy_pass http://rasa_replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location / {{ return 404; }}
  }}
"""


def nginx_conf(workdir: Path, http: str, user: str = "") -> str:
    """The configuration of an nginx of our own, run in the foreground (`nginx -p workdir -c
    ...`): its pid, error log and temporary files under `workdir`, no access log; `http` is the
    inside of its http block (upstreams, servers), `user` a `user ...;` line or nothing. The
    cluster's front and the console's proxy test (tests/console/test_console_proxy.py) use it."""
    return NGINX_CONF.format(dir=workdir, user=user, http=http)


@dataclass
class Nginx:
    workdir: Path
    listen: str
    upstream_ports: List[int]
    process: Optional[subprocess.Popen] = None

    def config(self) -> Path:
        servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;"
                            for port in self.upstream_ports)
        # As root, the workers run as nobody; they touch no file (bodies stay in memory).
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        conf = self.workdir / "nginx.conf"
        http = CHAT_PROXY.format(servers=servers, listen=self.listen)
        conf.write_text(nginx_conf(self.workdir, http, user), encoding="utf-8")
        return conf

    def start(self, timeout: float = 30) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self.config()
        self.process = spawn([nginx, "-p", str(self.workdir), "-c", str(conf),
                              "-e", str(self.workdir / "error.log")], self.workdir / "nginx.log")
        host, port = self.listen.rsplit(":", 1)
        host = "127.0.0.1" if host in ("0.0.0.0", "*") else host
        wait_until_up(f"http://{host}:{port}/webhooks/rest/", self.process, timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Front(Servers):
    """The action server, the demo page and the console of the cluster (no Rasa server of its
    own); the console shows the store incidents of the first replica's spool file."""

    first_spool: Optional[Path] = None

    @property
    def spool_db(self) -> Path:
        return self.first_spool or self.workdir / "tracker-spool.db"


def environment_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise SystemExit(f"Cannot start: {name} must be a whole number, not {value!r}")


@dataclass
class Cluster:
    var: Path
    replicas: int = 2
    chat_port: int = 5005
    replica_ports: List[int] = field(default_factory=list)
    action_port: int = 5055
    web_port: int = 8080
    console_port: int = 8090
    postgres_port: int = 5433
    redis_port: int = 6380
    host: str = "127.0.0.1"  # where nginx listens (the only public entry)
    pool_size: int = 5
    max_overflow: int = 5
    max_connections: int = 100
    web_origin: str = ""
    public_url: str = ""
    api_token: str = ""
    action_token: str = ""

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("RASA_REPLICAS must be at least 1")
        if not self.replica_ports:
            self.replica_ports = [self.chat_port + 1 + n for n in range(self.replicas)]
        if len(self.replica_ports) != self.replicas:
            raise ValueError(f"RASA_REPLICA_PORTS names {len(self.replica_ports)} ports for "
                             f"{self.replicas} replicas")
        needed = self.replicas * (self.pool_size + self.max_overflow)
        room = self.max_connections - CONSOLE_CONNECTIONS - SPARE_CONNECTIONS
        if needed > room:
            raise ValueError(
                f"{self.replicas} replicas x (SQL_POOL_SIZE {self.pool_size} + SQL_MAX_OVERFLOW "
                f"{self.max_overflow}) = {needed} connections, more than the {room} PostgreSQL "
                f"has room for (max_connections {self.max_connections}, less "
                f"{CONSOLE_CONNECTIONS} for the console and {SPARE_CONNECTIONS} spare)")
        self.web_origin = self.web_origin or f"http://localhost:{self.web_port}"
        self.public_url = self.public_url or f"http://localhost:{self.chat_port}"
        self.api_token = self.api_token or secrets.token_urlsafe(24)
        self.action_token = self.action_token or secrets.token_urlsafe(24)
        self.dir = self.var / "cluster"
        self.logs = self.dir / "logs"
        for path in (self.dir, self.logs, self.dir / "redis", self.dir / "nginx"):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db_password = secret(self.dir / "tracker-db-password")
        self.postgres = Postgres(self.dir / "postgres", self.postgres_port,
                                 self.logs / "postgres.log",
                                 secret(self.dir / "postgres-admin-password"), owned=self.var,
                                 max_connections=self.max_connections)
        self.redis = Redis(self.dir / "redis", self.redis_port,
                           secret(self.dir / "redis-password"), self.logs / "redis.log")
        self.nginx = Nginx(self.dir / "nginx", f"{self.host}:{self.chat_port}",
                           self.replica_ports)
        replica_env = {
            "TRACKER_DB_HOST": "127.0.0.1", "TRACKER_DB_PORT": str(self.postgres_port),
            "TRACKER_DB_NAME": DB_NAME, "TRACKER_DB_USER": DB_USER,
            "TRACKER_DB_PASSWORD": self.db_password,
            "SQL_POOL_SIZE": str(self.pool_size), "SQL_MAX_OVERFLOW": str(self.max_overflow),
            "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD": self.redis.password,
            "CHAT_LIMITS_STORE": "redis",  # the replicas count each visitor together
            "ACTION_SERVER_URL": f"http://127.0.0.1:{self.action_port}/webhook",
            # Every visitor reaches the replicas through nginx on loopback: believe its
            # X-Forwarded-For, so the per-address limits count visitors, not nginx.
            "CHAT_TRUSTED_PROXIES": "127.0.0.1",
        }
        self.rasa: List[Servers] = []
        for number, port in enumerate(self.replica_ports, 1):
            workdir = self.dir / f"rasa-{number}"
            workdir.mkdir(exist_ok=True, mode=0o700)
            self.rasa.append(Servers(
                rasa_port=port, action_port=self.action_port, tracker_db=workdir / "unused.db",
                workdir=workdir, log_dir=workdir, endpoints_source=ENDPOINTS,
                api_token=self.api_token, action_token=self.action_token,
                web_origin=self.web_origin, env=replica_env))
        self.front = Front(
            rasa_port=self.chat_port, action_port=self.action_port,
            tracker_db=self.dir / "unused.db", workdir=self.dir, log_dir=self.logs,
            api_token=self.api_token, action_token=self.action_token,
            console_port=self.console_port, web_port=self.web_port, web_origin=self.web_origin,
            public_rasa_url=self.public_url,
            # The console's own tables and secret go in <VAR_DIR>/cluster (its index belongs to
            # this tracker store, not to `make run`'s SQLite file): VAR_DIR=var/cluster for
            # `make staff-user` and `python -m console`.
            env={"TRACKER_DB_URL": self.tracker_url, "VAR_DIR": str(self.dir)})
        self.front.first_spool = self.rasa[0].spool_db

    @property
    def tracker_url(self) -> str:
        return self.postgres.url(DB_USER, self.db_password, DB_NAME)

    @classmethod
    def from_environment(cls) -> "Cluster":
        var = Path(os.environ.get("VAR_DIR") or ROOT / "var").resolve()
        chat_port = environment_int("RASA_PORT", 5005)
        ports = [int(p) for p in os.environ.get("RASA_REPLICA_PORTS", "").split(",") if p.strip()]
        return cls(
            var=var, replicas=environment_int("RASA_REPLICAS", 2), chat_port=chat_port,
            replica_ports=ports, action_port=environment_int("ACTION_PORT", 5055),
            web_port=environment_int("WEB_PORT", 8080),
            console_port=environment_int("CONSOLE_PORT", 8090),
            postgres_port=environment_int("POSTGRES_PORT", 5433),
            redis_port=environment_int("REDIS_PORT", 6380),
            host=os.environ.get("RASA_HOST", "127.0.0.1"),
            pool_size=environment_int("SQL_POOL_SIZE", 5),
            max_overflow=environment_int("SQL_MAX_OVERFLOW", 5),
            max_connections=environment_int("POSTGRES_MAX_CONNECTIONS", 100),
            web_origin=os.environ.get("WEB_ORIGIN", ""),
            public_url=os.environ.get("RASA_PUBLIC_URL", ""),
            api_token=os.environ.get("RASA_API_TOKEN", ""),
            action_token=os.environ.get("ACTION_SERVER_TOKEN", ""))

    def create_tables(self) -> None:
        """Rasa's events table, made once before the replicas start (several replicas creating
        it at the same instant collide, and Rasa then waits 5 s before it tries again)."""
        from sqlalchemy import create_engine
        from rasa.core.tracker_store import SQLTrackerStore

        engine = create_engine(self.tracker_url)
        try:
            SQLTrackerStore.Base.metadata.create_all(engine)
        finally:
            engine.dispose()

    def start_infrastructure(self) -> None:
        self.postgres.init()
        self.postgres.start()
        self.postgres.ensure_database(DB_USER, self.db_password, DB_NAME)
        self.create_tables()
        self.redis.start()

    def start_replicas(self) -> None:
        with ThreadPoolExecutor(len(self.rasa)) as pool:
            for started in [pool.submit(replica.start_rasa) for replica in self.rasa]:
                started.result()

    def start(self, log=print) -> None:
        log(f"Starting PostgreSQL on port {self.postgres_port} and Redis on port "
            f"{self.redis_port} ...")
        self.start_infrastructure()
        log(f"Starting the action server on port {self.action_port} ...")
        self.front.start_actions()
        log(f"Starting {len(self.rasa)} Rasa servers on ports "
            f"{', '.join(map(str, self.replica_ports))} ...")
        self.start_replicas()
        log(f"Starting nginx on {self.nginx.listen}, the demo page on port {self.web_port} and "
            f"the console on port {self.console_port} ...")
        self.nginx.start()
        self.front.start_web()
        self.front.start_console()

    def supervise(self) -> None:
        servers = {
            "postgres": (lambda: self.postgres.process, self.postgres.start),
            "redis": (lambda: self.redis.process, self.redis.start),
            "actions": (lambda: self.front.actions, self.front.start_actions),
        }
        for number, replica in enumerate(self.rasa, 1):
            servers[f"rasa-{number}"] = (lambda r=replica: r.rasa, replica.start_rasa)
        servers.update({
            "nginx": (lambda: self.nginx.process, self.nginx.start),
            "web": (lambda: self.front.web, self.front.start_web),
            "console": (lambda: self.front.console, self.front.start_console),
        })
        supervise(servers)

    def stop(self) -> None:
        """nginx first (no new messages), then every server at once, then the stores."""
        self.nginx.stop()
        processes = [self.front.console, self.front.web, self.front.actions,
                     *(replica.rasa for replica in self.rasa)]
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(stop, processes))
        self.redis.stop()
        self.postgres.stop()


def main() -> None:
    """Serves until Ctrl-C or SIGTERM (as scripts/serve.main: a signal handler is in place
    before the first process starts, and scripts/serve.run_supervised stops them all)."""
    signal.signal(signal.SIGTERM, exit_on_signal)
    signal.signal(signal.SIGINT, exit_on_signal)
    os.umask(0o077)
    try:
        cluster = Cluster.from_environment()
    except ValueError as error:
        raise SystemExit(f"Cannot start: {error}")
    token_file = cluster.var / "api-token"
    token_file.write_text(cluster.api_token + "\n", encoding="utf-8")
    token_file.chmod(0o600)

    def start() -> None:
        cluster.start(log=lambda line: print(line, flush=True))
        print(
            f"Ready. Chat at http://{cluster.nginx.listen}/webhooks/rest/webhook (nginx, "
            f"{len(cluster.rasa)} Rasa servers). The HTTP API token is in {token_file}.\n"
            f"Demo page with the chat widget: {cluster.web_origin}/\n"
            f"Front-desk console: http://127.0.0.1:{cluster.console_port}/\n"
            f"Conversations: PostgreSQL on 127.0.0.1:{cluster.postgres_port}, database "
            f"{DB_NAME} (password in {cluster.dir}/tracker-db-password).\n"
            f"Logs: {cluster.logs}/ and {cluster.dir}/rasa-N/rasa.log. Press Ctrl-C to stop.",
            flush=True)

    run_supervised(cluster, start, cluster.logs)


if __name__ == "__main__":
    main()
