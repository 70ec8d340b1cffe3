"""Front-desk notifications (issue 12) end to end: a real console process over a real SQLite
tracker store (a copy of the recorded one, into which recorded conversations are written again
as new ones), sending to a real SMTP server on loopback (aiosmtpd), plain and with STARTTLS and
a login; restarts, a mail server that is down, then comes up."""
import email
import email.policy
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from contextlib import closing

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from console.notify import MailSettings
from scripts.serve import BIN, ROOT, free_port, server_env
from tests.console.conftest import (
    console_cli, console_env, copy_tracker, replay, start_console, unique_dir,
)

PUBLIC_URL = "https://console.clinic.test"
RECIPIENTS = ["frontdesk@clinic.test", "nurse@clinic.test"]
# Everything the recorded conversations say that would identify a visitor or what they wrote
# (tests/console/conftest.py SCENARIOS): none of it may leave in a notification.
PATIENT_DATA = ["Dana", "Whitfield", "636.555.0188", "(636) 555-0188", "6365550188",
                "tuesday after lunch", "how long is a session", "book an appointment",
                "bladder", "since this morning", "emergency guidance since", "cauda"]


class Mailbox:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, port=None, **smtp_options):
        self.port = port or free_port()
        self.options = smtp_options
        self.messages = []  # (envelope sender, recipients, raw bytes, login or None)
        self.lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            login = getattr(session, "auth_data", None)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content or envelope.content), login))
        return "250 OK"

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def parsed(self):
        with self.lock:
            return [(sender, to, email.message_from_bytes(raw, policy=email.policy.default), raw,
                     login) for sender, to, raw, login in self.messages]


def wait_for(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def notify_env(port, **more):
    return dict({"NOTIFY_SMTP_HOST": "127.0.0.1", "NOTIFY_SMTP_PORT": str(port),
                 "NOTIFY_SMTP_TLS": "none", "NOTIFY_FROM": "console@clinic.test",
                 "NOTIFY_TO": ", ".join(RECIPIENTS), "CONSOLE_PUBLIC_URL": PUBLIC_URL + "/",
                 "NOTIFY_POLL_SECONDS": "0.5", "NOTIFY_RETRY_SECONDS": "0.5"}, **more)


def rows(workdir):
    with closing(sqlite3.connect(workdir / "console.db")) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM console_notifications ORDER BY id")]


def assert_no_patient_data(raw, *more):
    text = raw.decode("utf-8", "replace")
    for secret in PATIENT_DATA + list(more):
        assert secret.lower() not in text.lower(), secret


class Desk:
    """A console with e-mail notifications over its own copy of the recorded store."""

    def __init__(self, recorded, tmp_path_factory, name, mailbox, **env):
        self.workdir = unique_dir(tmp_path_factory, name)
        self.tracker = copy_tracker(recorded.tracker_db, self.workdir / "tracker.db")
        self.senders = recorded.senders
        self.mailbox = mailbox
        self.env = notify_env(mailbox.port, **env)
        self.console = start_console(self.workdir, self.tracker, env=self.env)

    def restart(self):
        self.console.stop()
        self.console = start_console(self.workdir, self.tracker, user=None, env=self.env)

    def log(self):
        return (self.workdir / "console.log").read_text()


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def desk(recorded, tmp_path_factory, mailbox):
    running = Desk(recorded, tmp_path_factory, "console_notify", mailbox)
    yield running
    running.console.stop()


def test_what_the_store_held_before_is_not_notified(desk):
    time.sleep(2)  # four rounds of the watcher
    assert desk.mailbox.messages == [] and rows(desk.workdir) == []
    assert desk.log().count("e-mail notifications on: to 2 recipient(s) through 127.0.0.1") == 1


def test_a_new_callback_request_sends_one_email_without_patient_data(desk):
    before = len(desk.mailbox.messages)
    sender = replay(desk.tracker, desk.senders["callback_other"])  # Dana's request, again
    wait_for(lambda: len(desk.mailbox.messages) > before, what="the e-mail")
    time.sleep(2)
    (mail_from, to, message, raw, _), = desk.mailbox.parsed()[before:]
    (row,) = [r for r in rows(desk.workdir) if r["kind"] == "callback"]
    assert (mail_from, sorted(to)) == ("console@clinic.test", sorted(RECIPIENTS))
    assert message["Subject"] == f"New callback request #{row['id']}"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("A new callback request is waiting: open the console at "
                           f"{PUBLIC_URL}/callbacks\n")
    assert_no_patient_data(raw, sender)
    with sqlite3.connect(desk.tracker) as db:  # keyed by the tracker event of the request
        (event_id, at), = db.execute(
            "SELECT id, timestamp FROM events WHERE sender_id = ? AND action_name = "
            "'callback_status' AND data LIKE '%submitted%'", (sender,)).fetchall()
    assert (row["event_id"], row["event_at"], row["state"], row["attempts"], row["last_error"]) \
        == (event_id, at, "sent", 1, "")
    assert "Dana" not in desk.log() and sender not in desk.log()

    desk.restart()  # nothing is sent twice
    time.sleep(3)
    assert len(desk.mailbox.messages) == before + 1
    assert [(r["id"], r["state"], r["attempts"]) for r in rows(desk.workdir)] == \
        [(row["id"], "sent", 1)]


def test_an_emergency_conversation_sends_its_email(desk):
    before = len(desk.mailbox.messages)
    replay(desk.tracker, desk.senders["handoff"])  # neither a callback nor an emergency
    replay(desk.tracker, desk.senders["possible"])  # only the safety line: no emergency
    sender = replay(desk.tracker, desk.senders["emergency"])
    wait_for(lambda: len(desk.mailbox.messages) > before, what="the e-mail")
    time.sleep(2)
    (_, _, message, raw, _), = desk.mailbox.parsed()[before:]
    (row,) = [r for r in rows(desk.workdir) if r["kind"] == "emergency"]
    assert message["Subject"] == f"Emergency guidance given #{row['id']}"
    assert message.get_content().replace("\r\n", "\n").startswith(
        "A conversation reached emergency guidance: open the console at "
        f"{PUBLIC_URL}/conversations?emergency=1\n")
    assert_no_patient_data(raw, sender)
    with sqlite3.connect(desk.tracker) as db:
        first = db.execute("SELECT min(id) FROM events WHERE sender_id = ? AND action_name = "
                           "'action_emergency'", (sender,)).fetchone()[0]
    assert (row["event_id"], row["state"]) == (first, "sent")


def test_a_rebuilt_summary_notifies_nothing_again(desk):
    before = len(desk.mailbox.messages), rows(desk.workdir)
    desk.console.cli("reindex")
    time.sleep(2)
    assert (len(desk.mailbox.messages), rows(desk.workdir)) == before


def test_a_mail_server_that_is_down_is_retried_until_it_comes_up(recorded, tmp_path_factory):
    down = Mailbox()  # not started: its port refuses connections
    desk = Desk(recorded, tmp_path_factory, "console_notify_down", down)
    try:
        replay(desk.tracker, desk.senders["callback"])
        tried = wait_for(lambda: [r for r in rows(desk.workdir) if r["attempts"] >= 3],
                         what="three attempts")
        (row,) = tried
        assert row["state"] == "pending" and "ConnectionRefusedError" in row["last_error"]
        assert row["next_try_at"] > row["created_at"]
        assert f"notification #{row['id']} (callback) not sent (attempt 1: " \
               "ConnectionRefusedError" in desk.log()
        # The console answers meanwhile.
        staff = desk.console.login()
        assert staff.get(desk.console.url + "/callbacks.json").status_code == 200
        down.start()
        try:
            wait_for(lambda: down.messages, what="the e-mail once the server is up")
            time.sleep(2)
            (_, _, message, raw, _), = down.parsed()
            assert message["Subject"] == f"New callback request #{row['id']}"
            assert_no_patient_data(raw, "Jane", "314-555-0142", "weekday mornings")
            (done,) = rows(desk.workdir)
            assert done["state"] == "sent" and done["attempts"] >= 4 and done["last_error"] == ""
        finally:
            down.stop()
    finally:
        desk.console.stop()


def test_a_notification_given_up_on_is_sent_again_on_request(recorded, tmp_path_factory):
    """After MAX_ATTEMPTS a notification is `failed` and never tried again, until staff run
    `python -m console resend-notifications` (audited), once the mail server is mended."""
    box = Mailbox()  # down at first
    desk = Desk(recorded, tmp_path_factory, "console_notify_resend", box)
    try:
        replay(desk.tracker, desk.senders["callback"])
        wait_for(lambda: [r for r in rows(desk.workdir) if r["attempts"] >= 1], what="a try")
        desk.console.stop()
        with closing(sqlite3.connect(desk.workdir / "console.db")) as db, db:
            db.execute("UPDATE console_notifications SET state = 'failed'")  # as after 20 tries
        box.start()
        desk.restart()
        time.sleep(2)  # four rounds of the watcher: a failed one is left alone
        assert box.messages == [] and [r["state"] for r in rows(desk.workdir)] == ["failed"]
        off = console_cli(desk.workdir, desk.tracker, "resend-notifications", check=False)
        assert off.returncode != 0 and "e-mail is off (NOTIFY_SMTP_HOST is not set)" in off.stderr
        other = console_cli(desk.workdir, desk.tracker, "resend-notifications", "--id", "99",
                            env=desk.env)
        assert other.stdout.startswith("0 failed notifications")
        assert [r["state"] for r in rows(desk.workdir)] == ["failed"]
        done = console_cli(desk.workdir, desk.tracker, "resend-notifications", "--id", "1",
                           env=desk.env)
        assert done.stdout.strip() == \
            "1 failed notifications are due again; the running console sends them."
        wait_for(lambda: box.messages, what="the e-mail sent again")
        (row,) = rows(desk.workdir)
        assert (row["state"], row["attempts"]) == ("sent", 1)
        (_, _, message, raw, _), = box.parsed()
        assert message["Subject"] == f"New callback request #{row['id']}"
        assert_no_patient_data(raw)
        with closing(sqlite3.connect(desk.workdir / "console.db")) as db:
            assert db.execute("SELECT action, detail FROM console_audit WHERE action = "
                              "'resend-notifications'").fetchall() == \
                [("resend-notifications", f"#{row['id']}")]
        again = console_cli(desk.workdir, desk.tracker, "resend-notifications", env=desk.env)
        assert again.stdout.startswith("0 failed notifications")
    finally:
        box.stop()
        desk.console.stop()


# --- STARTTLS and a login, with the password in a file ------------------------------------------

def self_signed(directory):
    """A certificate for 127.0.0.1, as a private mail relay might have (and its key)."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_file, cert_file = directory / "smtp.key", directory / "smtp.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def test_starttls_with_a_login_read_from_a_password_file(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "smtp_tls")
    key, cert = self_signed(workdir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    password = "mail relay password 42"
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"console", password.encode())
        return AuthResult(success=ok)

    box = Mailbox(tls_context=context, require_starttls=True, auth_required=True,
                  authenticator=authenticator).start()
    secret = workdir / "smtp-password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    desk = Desk(recorded, tmp_path_factory, "console_notify_tls", box,
                NOTIFY_SMTP_TLS="starttls", NOTIFY_SMTP_USER="console",
                NOTIFY_SMTP_PASSWORD_FILE=str(secret), NOTIFY_SMTP_CAFILE=str(cert))
    try:
        replay(desk.tracker, desk.senders["callback_other"])
        wait_for(lambda: box.messages, what="the e-mail")
        assert logins == [(b"console", password.encode())]
        (_, _, message, raw, _), = box.parsed()
        assert message["Subject"].startswith("New callback request #")
        assert_no_patient_data(raw)
        # the password never on a command line, nor in the log
        with open(f"/proc/{desk.console.servers.console.pid}/cmdline", "rb") as cmdline:
            assert password.encode() not in cmdline.read()
        assert password not in desk.log()
    finally:
        desk.console.stop()
        box.stop()


# --- Settings -------------------------------------------------------------------------------------

def test_no_smtp_host_means_email_off_said_once(recorded, tmp_path_factory):
    workdir = unique_dir(tmp_path_factory, "console_notify_off")
    tracker = copy_tracker(recorded.tracker_db, workdir / "tracker.db")
    console = start_console(workdir, tracker, env={"NOTIFY_POLL_SECONDS": "0.5"})
    try:
        staff = console.login()
        replay(tracker, recorded.senders["callback_other"])
        (row,) = wait_for(lambda: [r for r in rows(workdir) if r["state"] == "off"],
                          what="the notification recorded")
        assert row["kind"] == "callback" and row["attempts"] == 0
        # the badge counts it all the same
        assert staff.get(console.url + "/notifications.json").json()["unseen"] == \
            {"callback": 1, "emergency": 0}
        time.sleep(1)
    finally:
        console.stop()
    log = (workdir / "console.log").read_text()
    assert log.count("e-mail notifications are off: NOTIFY_SMTP_HOST is not set") == 1


@pytest.mark.parametrize("env, message", [
    ({"NOTIFY_SMTP_TLS": "tls13"}, "NOTIFY_SMTP_TLS must be none, starttls or ssl"),
    ({"NOTIFY_SMTP_PORT": "smtp"}, "NOTIFY_SMTP_PORT must be a port number"),
    ({"NOTIFY_TO": ""}, "NOTIFY_TO must name at least one address"),
    ({"NOTIFY_TO": "desk@clinic.test\r\nBcc: x@evil.test"}, "NOTIFY_TO must hold plain"),
    ({"NOTIFY_FROM": "console"}, "NOTIFY_FROM must hold plain"),
    ({"NOTIFY_SMTP_USER": "console"}, "NOTIFY_SMTP_USER needs NOTIFY_SMTP_PASSWORD_FILE"),
    ({"NOTIFY_SMTP_USER": "console", "NOTIFY_SMTP_PASSWORD_FILE": "/nonexistent/password",
      "NOTIFY_SMTP_TLS": "ssl"}, "NOTIFY_SMTP_PASSWORD_FILE cannot be read"),
    ({"NOTIFY_SMTP_HOST": "mail.clinic.test", "NOTIFY_SMTP_USER": "console",
      "NOTIFY_SMTP_PASSWORD_FILE": "/etc/hostname"},
     "NOTIFY_SMTP_USER with NOTIFY_SMTP_TLS=none would send the password unencrypted"),
    ({"CONSOLE_PUBLIC_URL": "console.clinic.test"}, "CONSOLE_PUBLIC_URL must be an http(s)"),
    ({"NOTIFY_POLL_SECONDS": "0"}, "NOTIFY_POLL_SECONDS must be a number of seconds"),
    ({"CONSOLE_IDLE_MINUTES": "soon"}, "CONSOLE_IDLE_MINUTES must be a number of minutes"),
])
def test_settings_that_cannot_work_stop_the_start(tmp_path, env, message):
    settings = dict(console_env(tmp_path, tmp_path / "tracker.db"), **notify_env(free_port()))
    settings.update(env)
    done = subprocess.run([str(BIN / "python"), "-m", "console", "serve", "--port",
                           str(free_port())], cwd=ROOT, env=server_env(settings),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Cannot start: " + message in done.stderr, done.stderr


def test_mail_settings_defaults_and_the_password_only_from_its_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret password\n")
    env = {"NOTIFY_SMTP_HOST": "mail.clinic.test", "NOTIFY_FROM": "console@clinic.test",
           "NOTIFY_TO": "a@clinic.test,b@clinic.test", "NOTIFY_SMTP_USER": "console",
           "NOTIFY_SMTP_PASSWORD_FILE": str(secret), "NOTIFY_SMTP_PASSWORD": "ignored"}
    mail = MailSettings.from_env(env, console_port=8123)
    assert (mail.tls, mail.port, mail.recipients, mail.public_url, mail.password) == \
        ("starttls", 587, ["a@clinic.test", "b@clinic.test"], "http://localhost:8123",
         "s3cret password")
    assert "s3cret" not in repr(mail)
    assert MailSettings.from_env(dict(env, NOTIFY_SMTP_TLS="ssl")).port == 465
    assert MailSettings.from_env({"NOTIFY_TO": "a@clinic.test"}) is None  # no host: e-mail off


def test_the_watcher_never_holds_up_a_page(recorded, tmp_path_factory):
    """A mail server that accepts the connection and never answers: pages answer at once."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        desk = Desk(recorded, tmp_path_factory, "console_notify_silent", Mailbox(port=port))
        try:
            replay(desk.tracker, desk.senders["emergency"])
            wait_for(lambda: rows(desk.workdir), what="the notification recorded")
            staff = desk.console.login()
            for _ in range(5):
                started = time.monotonic()
                assert staff.get(desk.console.url + "/conversations.json").status_code == 200
                assert time.monotonic() - started < 2
                time.sleep(0.3)
        finally:
            desk.console.stop()
