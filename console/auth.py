"""Staff accounts, admins, sessions, CSRF tokens and login throttling.

Passwords are kept only as scrypt hashes with a random salt. A session is a random token in an
HttpOnly, SameSite=Strict cookie; the database keeps only its SHA-256, so a copy of the database
does not log anyone in. A session ends after SESSION_SECONDS, or sooner after CONSOLE_IDLE_MINUTES
(default 15) without a request from the person: the server keeps each session's last-seen time
(the pages' background polling does not count). CSRF tokens are HMACs of the session (or, before
login, of a pre-login cookie) under the console's secret. Admins (console_admins) may read and
export the audit log.

Throttling counts failed logins per (user name, client address) pair and per client address
(visitors/address.py says which address that is behind a proxy). Guessing one person's password
from one place is slowed after FREE_FAILURES, spraying many user names from one place after
ADDRESS_FREE_FAILURES; a colleague logging in from elsewhere is never held up by either. A
successful login clears the failures of its pair and of its address.
"""
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from console.db import PRIVATE, Databases, admins, login_failures, sessions, users, var_dir

SESSION_SECONDS = 8 * 3600  # one working day
IDLE_MINUTES = 15  # default of CONSOLE_IDLE_MINUTES
MIN_PASSWORD = 12
# scrypt cost: n=2**15, r=8 takes about 0.1 s and 32 MB, slow enough to make guessing expensive.
SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}
# Throttling: after FREE_FAILURES failures within WINDOW seconds for one user name from one
# address, or ADDRESS_FREE_FAILURES for any user names from one address, each further attempt
# from there waits, doubling from BASE_DELAY up to WINDOW.
FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
WINDOW = 15 * 60
BASE_DELAY = 30


class AccountError(ValueError):
    pass


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                p=int(p), maxmem=SCRYPT["maxmem"], dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual.hex(), digest)


# Compared against when the user name is unknown, so both cases take the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_user(dbs: Databases, username: str, password: str, admin: bool = False) -> None:
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise AccountError("user names are 1-64 letters, digits, '.', '-' or '_'")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
    try:
        with dbs.console.begin() as db:
            user_id = db.execute(users.insert().values(
                username=username, password_hash=hash_password(password),
                created_at=time.time())).inserted_primary_key[0]
            if admin:
                db.execute(admins.insert().values(user_id=user_id, granted_at=time.time()))
    except IntegrityError:
        raise AccountError(f"there is already a user called {username!r}") from None


def set_admin(dbs: Databases, username: str, admin: bool) -> bool:
    """Grants (or revokes) the admin role; False when the account already had (or lacked) it."""
    with dbs.console.begin() as db:
        user_id = db.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if user_id is None:
            raise AccountError(f"no user called {username!r}")
        has = db.execute(select(admins.c.user_id).where(admins.c.user_id == user_id)).first()
        if admin and has is None:
            db.execute(admins.insert().values(user_id=user_id, granted_at=time.time()))
        elif not admin and has is not None:
            db.execute(delete(admins).where(admins.c.user_id == user_id))
        else:
            return False
    return True


def set_password(dbs: Databases, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords need at least {MIN_PASSWORD} characters")
    with dbs.console.begin() as db:
        changed = db.execute(users.update().where(users.c.username == username)
                             .values(password_hash=hash_password(password))).rowcount
        if not changed:
            raise AccountError(f"no user called {username!r}")
        user_id = db.execute(select(users.c.id).where(users.c.username == username)).scalar()
        db.execute(delete(sessions).where(sessions.c.user_id == user_id))  # log out everywhere


def user_count(dbs: Databases) -> int:
    with dbs.console.connect() as db:
        return db.execute(select(func.count()).select_from(users)).scalar()


def authenticate(dbs: Databases, username: str, password: str) -> Optional[int]:
    with dbs.console.connect() as db:
        row = db.execute(select(users.c.id, users.c.password_hash)
                         .where(users.c.username == username)).first()
    ok = check_password(password, row.password_hash if row else _DUMMY_HASH)
    return row.id if row and ok else None


def throttle_keys(username: str, address: str) -> List[Tuple[str, int]]:
    """The failure counters one login attempt touches, each with its free failures:
    "pair:<address> <user name>" and "ip:<address>" (an address has no space in it)."""
    return [(f"pair:{address} {username.lower()}", FREE_FAILURES),
            (f"ip:{address}", ADDRESS_FREE_FAILURES)]


def wait_seconds(dbs: Databases, username: str, address: str, now: Optional[float] = None) -> int:
    """How long a login for `username` from `address` must wait before trying (0: no wait)."""
    now = time.time() if now is None else now
    longest = 0.0
    with dbs.console.connect() as db:
        for key, free in throttle_keys(username, address):
            row = db.execute(
                select(func.count(), func.max(login_failures.c.at))
                .where(and_(login_failures.c.key == key, login_failures.c.at > now - WINDOW))).first()
            count, last = row[0], row[1]
            if count >= free:
                delay = min(BASE_DELAY * 2 ** (count - free), WINDOW)
                longest = max(longest, last + delay - now)
    return int(longest + 0.999) if longest > 0 else 0


def record_failure(dbs: Databases, username: str, address: str,
                   now: Optional[float] = None) -> None:
    now = time.time() if now is None else now
    with dbs.console.begin() as db:
        db.execute(login_failures.insert(),
                   [{"key": key, "at": now} for key, _ in throttle_keys(username, address)])
        db.execute(delete(login_failures).where(login_failures.c.at < now - WINDOW))


def clear_failures(dbs: Databases, username: str, address: str) -> None:
    """After a successful login: forgets the failures of this pair and of this address."""
    keys = [key for key, _ in throttle_keys(username, address)]
    with dbs.console.begin() as db:
        db.execute(delete(login_failures).where(login_failures.c.key.in_(keys)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_seconds(value: Optional[str] = None) -> float:
    """CONSOLE_IDLE_MINUTES (default IDLE_MINUTES) in seconds; ValueError if malformed."""
    value = (os.environ.get("CONSOLE_IDLE_MINUTES", "") if value is None else value).strip()
    if not value:
        return IDLE_MINUTES * 60.0
    try:
        minutes = float(value)
    except ValueError:
        minutes = float("nan")
    if not 0 < minutes <= SESSION_SECONDS / 60:  # also refuses nan
        raise ValueError(f"CONSOLE_IDLE_MINUTES must be a number of minutes above 0 and at most "
                         f"{SESSION_SECONDS // 60}, not {value[:40]!r}")
    return minutes * 60.0


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    admin: bool


def start_session(dbs: Databases, user_id: int, idle: float = IDLE_MINUTES * 60.0) -> str:
    token = secrets.token_urlsafe(32)
    now = time.time()
    with dbs.console.begin() as db:
        db.execute(delete(sessions).where(or_(sessions.c.expires_at < now,
                                              sessions.c.last_seen < now - idle)))
        db.execute(sessions.insert().values(token_hash=_digest(token), user_id=user_id,
                                            created_at=now, expires_at=now + SESSION_SECONDS,
                                            last_seen=now))
    return token


def session_user(dbs: Databases, token: Optional[str], idle: float = IDLE_MINUTES * 60.0,
                 touch: bool = True, now: Optional[float] = None
                 ) -> Tuple[Optional[Staff], Optional[str]]:
    """(the account of a live session token, None) or (None, the user name of a session that
    has just ended for being idle longer than `idle` seconds: it is deleted) or (None, None).
    `touch`: this request is the person's own (not background polling), so the session's
    last-seen time moves on (at most every few seconds: one write per page, not per request)."""
    if not token or len(token) > 100:
        return None, None
    now = time.time() if now is None else now
    digest = _digest(token)
    with dbs.console.connect() as db:
        row = db.execute(
            select(users.c.id, users.c.username, sessions.c.last_seen,
                   admins.c.user_id.label("admin"))
            .select_from(sessions.join(users, users.c.id == sessions.c.user_id)
                         .outerjoin(admins, admins.c.user_id == users.c.id))
            .where(and_(sessions.c.token_hash == digest, sessions.c.expires_at > now))).first()
    if row is None:
        return None, None
    if row.last_seen <= now - idle:
        with dbs.console.begin() as db:
            gone = db.execute(delete(sessions).where(sessions.c.token_hash == digest)).rowcount
        return None, (row.username if gone else None)
    if touch and row.last_seen < now - min(15.0, idle / 20):
        with dbs.console.begin() as db:
            db.execute(update(sessions).where(sessions.c.token_hash == digest)
                       .values(last_seen=now))
    return Staff(row.id, row.username, row.admin is not None), None


def end_session(dbs: Databases, token: Optional[str]) -> None:
    if token:
        with dbs.console.begin() as db:
            db.execute(delete(sessions).where(sessions.c.token_hash == _digest(token)))


def load_secret(path: Optional[Path] = None) -> bytes:
    """CONSOLE_SECRET, else a random secret generated once into <VAR_DIR>/console-secret
    (mode 600)."""
    value = os.environ.get("CONSOLE_SECRET")
    if value:
        return value.encode()
    path = var_dir() / "console-secret" if path is None else path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        except FileExistsError:
            pass  # another process wrote it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
    return path.read_text().strip().encode()


def csrf_token(secret: bytes, bound_to: str) -> str:
    return hmac.new(secret, bound_to.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, bound_to: Optional[str], given: Optional[str]) -> bool:
    return bool(bound_to and given) and hmac.compare_digest(csrf_token(secret, bound_to), given)
