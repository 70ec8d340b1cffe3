"""Front-desk notifications (issue 12): a new callback request, or a conversation that reached
emergency guidance, tells the front desk at once, by e-mail and on every open console tab.

Recording: the indexer (console/indexer.py) records one row in console_notifications for each
such event, in the transaction that indexes it, keyed by the event; so each event is recorded
once, whatever restarts, rebuilds or several console processes do. Events already in the tracker
store when a console first runs with notifications are not notified (indexer.ensure_baseline).

Watching and sending: in the serving process, a Watcher thread indexes the tracker store every
NOTIFY_POLL_SECONDS (so nothing waits for a page to be opened), then sends the notifications that
are due, one connection each, with smtplib. A notification is claimed before it is sent (its
attempt counted, its next try pushed past the send), marked sent after; a failure is retried
after NOTIFY_RETRY_SECONDS, doubling up to an hour, and after MAX_ATTEMPTS it is marked failed
(`python -m console resend-notifications` makes those due again).
Only a process killed between the mail server's "250 OK" and the commit can send one twice.
The thread never blocks the console's requests, nor the bot (another process).

No patient data leaves: an e-mail (and a browser notification) says only what kind of event it
is, its number and where the console is. Without NOTIFY_SMTP_HOST, e-mail is off (said once in
the log) and notifications are recorded as "off": the badge on open tabs still counts them.
"""
import ipaddress
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from sqlalchemy import and_, desc, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from console import indexer
from console.db import Databases, notifications, notifications_seen

logger = logging.getLogger("console.notify")

KINDS = ("callback", "emergency")
# What each kind says, with nothing about the visitor: (subject, first line, page).
TEXTS = {
    "callback": ("New callback request #{number}",
                 "A new callback request is waiting: open the console at {url}", "/callbacks"),
    "emergency": ("Emergency guidance given #{number}",
                  "A conversation reached emergency guidance: open the console at {url}",
                  "/conversations?emergency=1"),
}
FOOTER = ("This message has no patient details on purpose: read them in the console, after "
          "logging in.")
TLS_MODES = {"none": 25, "starttls": 587, "ssl": 465}  # with their default ports
SMTP_TIMEOUT = 20
MAX_ATTEMPTS = 20  # with the default NOTIFY_RETRY_SECONDS, about 15 hours of retries
MAX_RETRY_DELAY = 3600
LEASE_SECONDS = 120  # a claimed notification is not tried again by anyone for this long
POLL_SECONDS = 5.0
RETRY_SECONDS = 30.0


def texts(kind: str, number: int, public_url: str) -> Tuple[str, str, str]:
    """(subject, body, page path) of notification `number`."""
    subject, line, page = TEXTS[kind]
    return subject.format(number=number), line.format(url=public_url + page), page


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:  # also refuses nan
        raise ValueError(f"{name} must be a number of seconds from {low:g} to {high:g}, "
                         f"not {value[:40]!r}")
    return number


def _address(value: str, name: str) -> str:
    value = value.strip()
    if "@" not in value or any(c.isspace() or c in ",<>\"" for c in value) or len(value) > 254:
        raise ValueError(f"{name} must hold plain e-mail addresses (name@example.org), "
                         f"not {value[:60]!r}")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(env: Mapping[str, str], port: int) -> str:
    """CONSOLE_PUBLIC_URL (the console's address as staff open it), else http://localhost:port."""
    url = (env.get("CONSOLE_PUBLIC_URL") or "").strip().rstrip("/")
    if not url:
        return f"http://localhost:{port}"
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise ValueError(f"CONSOLE_PUBLIC_URL must be an http(s) address, not {url[:60]!r}")
    return url


@dataclass
class MailSettings:
    host: str
    port: int
    tls: str
    sender: str
    recipients: List[str]
    public_url: str
    user: str = ""
    password: str = field(default="", repr=False)
    cafile: Optional[str] = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ,
                 console_port: int = 8090) -> Optional["MailSettings"]:
        """The NOTIFY_* settings; None without NOTIFY_SMTP_HOST (e-mail off); ValueError for a
        setting that cannot work (the console then refuses to start, saying which)."""
        url = public_url(env, console_port)
        host = (env.get("NOTIFY_SMTP_HOST") or "").strip()
        if not host:
            return None
        tls = (env.get("NOTIFY_SMTP_TLS") or "starttls").strip().lower()
        if tls not in TLS_MODES:
            raise ValueError("NOTIFY_SMTP_TLS must be none, starttls or ssl")
        port_text = (env.get("NOTIFY_SMTP_PORT") or "").strip()
        if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            raise ValueError(f"NOTIFY_SMTP_PORT must be a port number, not {port_text[:20]!r}")
        port = int(port_text) if port_text else TLS_MODES[tls]
        user = (env.get("NOTIFY_SMTP_USER") or "").strip()
        password_file = (env.get("NOTIFY_SMTP_PASSWORD_FILE") or "").strip()
        password = ""
        if user and not password_file:
            raise ValueError("NOTIFY_SMTP_USER needs NOTIFY_SMTP_PASSWORD_FILE (a file holding "
                             "the password)")
        if password_file and not user:
            raise ValueError("NOTIFY_SMTP_PASSWORD_FILE needs NOTIFY_SMTP_USER")
        if user:
            if tls == "none" and not _loopback(host):
                raise ValueError("NOTIFY_SMTP_USER with NOTIFY_SMTP_TLS=none would send the "
                                 "password unencrypted: use starttls or ssl")
            path = Path(password_file)
            try:
                password = path.read_text(encoding="utf-8").rstrip("\r\n")
                if path.stat().st_mode & 0o077:
                    logger.warning("NOTIFY_SMTP_PASSWORD_FILE can be read by others than its "
                                   "owner: chmod 600 it")
            except OSError as problem:
                raise ValueError(f"NOTIFY_SMTP_PASSWORD_FILE cannot be read "
                                 f"({problem.strerror or type(problem).__name__})") from None
            if not password:
                raise ValueError("NOTIFY_SMTP_PASSWORD_FILE is empty")
        cafile = (env.get("NOTIFY_SMTP_CAFILE") or "").strip() or None
        if cafile and not Path(cafile).is_file():
            raise ValueError("NOTIFY_SMTP_CAFILE is not a file")
        sender = _address(env.get("NOTIFY_FROM") or "", "NOTIFY_FROM")
        recipients = [_address(a, "NOTIFY_TO") for a in (env.get("NOTIFY_TO") or "").split(",")
                      if a.strip()]
        if not recipients:
            raise ValueError("NOTIFY_TO must name at least one address (comma-separated)")
        return cls(host=host, port=port, tls=tls, sender=sender, recipients=recipients,
                   public_url=url, user=user, password=password, cafile=cafile)


def message(mail: MailSettings, number: int, kind: str) -> EmailMessage:
    subject, body, _ = texts(kind, number, mail.public_url)
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = ", ".join(mail.recipients)
    email["Subject"] = subject
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = make_msgid(f"console-notification-{number}",
                                     domain=mail.sender.rpartition("@")[2])
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    email.set_content(f"{body}\n\n{FOOTER}\n")
    return email


def send(mail: MailSettings, email: EmailMessage) -> Dict[str, Any]:
    """Delivers one message to the mail server; raises on failure. Returns the recipients the
    server refused (while it took the others)."""
    context = ssl.create_default_context(cafile=mail.cafile) if mail.tls != "none" else None
    local = socket.gethostname() or "localhost"  # no DNS look-up (socket.getfqdn) on each send
    if mail.tls == "ssl":
        client = smtplib.SMTP_SSL(mail.host, mail.port, local_hostname=local,
                                  timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(mail.host, mail.port, local_hostname=local, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if mail.tls == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if mail.user:
            client.login(mail.user, mail.password)
        return client.send_message(email, from_addr=mail.sender, to_addrs=mail.recipients)


def describe(problem: BaseException) -> str:
    """A failure in one line, without what a statement carried (SQLAlchemy's message quotes
    the statement's parameters: possibly what a visitor wrote)."""
    if isinstance(problem, DBAPIError):
        problem = problem.orig or problem
    text = str(problem).splitlines()[0] if str(problem) else ""
    return f"{type(problem).__name__}: {text}"[:300] if text else type(problem).__name__


def retry_delay(attempts: int, base: float) -> float:
    return min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)


def turn_off_pending(dbs: Databases) -> int:
    """E-mail is off: what waits to be sent never will be (nor later, when it is turned on)."""
    with dbs.console.begin() as db:
        return db.execute(update(notifications).where(notifications.c.state == "pending")
                          .values(state="off", last_error="e-mail notifications are off")
                          ).rowcount


def resend_failed(dbs: Databases, ids: Optional[List[int]] = None) -> List[int]:
    """Notifications given up on (`failed`), or only those of `ids`, are due again from their
    first attempt, for the watcher of the running console to send (once the mail server is
    mended). Returns their ids."""
    where = notifications.c.state == "failed"
    if ids:
        where = and_(where, notifications.c.id.in_(ids))
    with dbs.console.begin() as db:
        due = list(db.execute(select(notifications.c.id).where(where)
                              .order_by(notifications.c.id)).scalars())
        db.execute(update(notifications).where(and_(
            notifications.c.id.in_(due), notifications.c.state == "failed")).values(
            state="pending", attempts=0, next_try_at=time.time()))
    return due


def deliver_due(dbs: Databases, mail: Optional[MailSettings], retry: float = RETRY_SECONDS,
                now: Optional[float] = None) -> int:
    """Sends the notifications that are due, oldest first; stops at the first failure (the
    server is likely down for the others too). Returns how many were sent."""
    if mail is None:
        turn_off_pending(dbs)
        return 0
    now = time.time() if now is None else now
    with dbs.console.connect() as db:
        due = list(db.execute(
            select(notifications.c.id, notifications.c.kind, notifications.c.attempts)
            .where(and_(notifications.c.state == "pending", notifications.c.next_try_at <= now))
            .order_by(notifications.c.id).limit(50)))
    sent = 0
    for row in due:
        attempt = row.attempts + 1
        with dbs.console.begin() as db:  # claim it: nobody else tries it meanwhile
            claimed = db.execute(
                update(notifications)
                .where(and_(notifications.c.id == row.id, notifications.c.state == "pending",
                            notifications.c.attempts == row.attempts))
                .values(attempts=attempt, next_try_at=time.time() + LEASE_SECONDS)).rowcount
        if not claimed:
            continue
        try:
            refused = send(mail, message(mail, row.id, row.kind))
        except (OSError, smtplib.SMTPException, ValueError) as problem:
            error = describe(problem)
            gave_up = attempt >= MAX_ATTEMPTS
            delay = retry_delay(attempt, retry)
            with dbs.console.begin() as db:
                db.execute(update(notifications).where(notifications.c.id == row.id).values(
                    state="failed" if gave_up else "pending", last_error=error,
                    next_try_at=time.time() + delay))
            if gave_up:
                logger.error("notification #%d (%s) not sent after %d attempts, given up: %s",
                             row.id, row.kind, attempt, error)
            else:
                logger.warning("notification #%d (%s) not sent (attempt %d: %s); next try in "
                               "%.0f s", row.id, row.kind, attempt, error, delay)
            break
        with dbs.console.begin() as db:
            db.execute(update(notifications).where(notifications.c.id == row.id).values(
                state="sent", sent_at=time.time(),
                last_error=f"refused: {', '.join(sorted(refused))}"[:300] if refused else ""))
        logger.info("notification #%d (%s) sent to %d of %d recipients", row.id, row.kind,
                    len(mail.recipients) - len(refused), len(mail.recipients))
        sent += 1
    return sent


class Watcher:
    """The thread that indexes new events and sends what is due, every `poll` seconds."""

    def __init__(self, dbs: Databases, mail: Optional[MailSettings], poll: float = POLL_SECONDS,
                 retry: float = RETRY_SECONDS):
        self.dbs, self.mail, self.poll, self.retry = dbs, mail, poll, retry
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        if self.mail is None:
            logger.warning("e-mail notifications are off: NOTIFY_SMTP_HOST is not set")
        else:
            logger.warning("e-mail notifications on: to %d recipient(s) through %s:%d (%s)",
                           len(self.mail.recipients), self.mail.host, self.mail.port,
                           self.mail.tls)
        self._thread = threading.Thread(target=self._run, name="console-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            self.step()
            if self._stop.wait(self.poll):
                return

    def step(self) -> None:
        """One round; a failure is logged (without patient data) and the next round tries
        again."""
        try:
            indexer.index_all(self.dbs)
        except Exception as problem:  # noqa: BLE001 - the thread must go on
            logger.warning("notifications: indexing failed (%s)", describe(problem))
        try:
            deliver_due(self.dbs, self.mail, self.retry)
        except Exception as problem:  # noqa: BLE001
            logger.warning("notifications: sending failed (%s)", describe(problem))


# --- What open console tabs show -------------------------------------------------------------

def _latest(db) -> Dict[str, int]:
    rows = db.execute(select(notifications.c.kind, func.max(notifications.c.id))
                      .group_by(notifications.c.kind))
    found = {kind: int(top or 0) for kind, top in rows}
    return {kind: found.get(kind, 0) for kind in KINDS}


def seen(dbs: Databases, user_id: int) -> Dict[str, int]:
    """The last notification of each kind this account has seen; an account that has none yet
    (called at each login) starts at the latest: nothing from before its first login is new."""
    with dbs.console.connect() as db:
        found = dict(db.execute(select(notifications_seen.c.kind, notifications_seen.c.last_id)
                                .where(notifications_seen.c.user_id == user_id)).all())
        latest = _latest(db) if len(found) < len(KINDS) else {}
    missing = {kind: latest[kind] for kind in KINDS if kind not in found}
    if missing:
        try:
            with dbs.console.begin() as db:
                db.execute(notifications_seen.insert(), [
                    {"user_id": user_id, "kind": kind, "last_id": last}
                    for kind, last in missing.items()])
        except IntegrityError:
            pass  # another request of the same account did it
        found.update(missing)
    return found


def unseen(dbs: Databases, user_id: int, public: str = "", limit: int = 10) -> Dict[str, Any]:
    """For the badge and browser notifications: how many of each kind this account has not
    seen, the highest notification id, and the newest unseen ones (their texts only)."""
    last_seen = seen(dbs, user_id)
    n = notifications.c
    after = [and_(n.kind == kind, n.id > last_seen[kind]) for kind in KINDS]
    with dbs.console.connect() as db:
        counts = {kind: db.execute(select(func.count()).select_from(notifications)
                                   .where(condition)).scalar()
                  for kind, condition in zip(KINDS, after)}
        latest = db.execute(select(func.max(n.id))).scalar() or 0
        rows = list(db.execute(select(n.id, n.kind, n.event_at)
                               .where(or_(*after)).order_by(desc(n.id)).limit(limit)))
    recent = []
    for row in rows:
        title, body, page = texts(row.kind, row.id, public)
        recent.append({"id": row.id, "kind": row.kind, "title": title, "body": body,
                       "url": page, "at": row.event_at})
    return {"unseen": counts, "latest": int(latest), "recent": recent}


def mark_seen(dbs: Databases, user_id: int, kind: str) -> None:
    """This account has looked at the page for `kind` (the callback queue, the emergencies)."""
    seen(dbs, user_id)
    with dbs.console.begin() as db:
        top = db.execute(select(func.max(notifications.c.id))
                         .where(notifications.c.kind == kind)).scalar() or 0
        db.execute(update(notifications_seen)
                   .where(and_(notifications_seen.c.user_id == user_id,
                               notifications_seen.c.kind == kind,
                               notifications_seen.c.last_id < top))
                   .values(last_id=top))


def settings(env: Mapping[str, str] = os.environ) -> Tuple[float, float]:
    """(NOTIFY_POLL_SECONDS, NOTIFY_RETRY_SECONDS); ValueError if malformed."""
    return (_seconds(env, "NOTIFY_POLL_SECONDS", POLL_SECONDS, 0.2, 300),
            _seconds(env, "NOTIFY_RETRY_SECONDS", RETRY_SECONDS, 0.1, MAX_RETRY_DELAY))
