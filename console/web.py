"""The console's Sanic app: login, the session check in front of every route, CSRF on every POST.

Only /login and /health answer without a session (/health says only whether both databases
answer). Logins are throttled per (user name, client address) and per client address
(console/auth.py); the client address is the peer's, or, from a proxy in
CONSOLE_TRUSTED_PROXIES, taken from X-Forwarded-For (visitors/address.py). A session idle for
CONSOLE_IDLE_MINUTES ends; the pages' background polling (PASSIVE_PATHS) does not keep it alive.
Served with watch=True, a thread indexes new events and sends notifications (console/notify.py).
"""
import itertools
import logging
import os
import secrets
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException

from console import auth, indexer, notify, views
from visitors.address import client_address, parse_trusted
from console.db import Databases
from stores import spool_path
from console.filters import BadInput
from console.queries import log
from console.responses import add_security_headers, error, form_values, html, wants_json

logger = logging.getLogger("console")
SESSION_COOKIE = "console_session"
PRE_LOGIN_COOKIE = "console_login"
HEALTH_PATH = "/health"
OPEN_PATHS = {"/login", HEALTH_PATH}  # the only routes that answer without a session
# Asked for by the pages' script, not by the person: they do not keep an idle session alive.
PASSIVE_PATHS = {"/notifications.json", "/console.js"}
_names = itertools.count()


def set_cookie(resp, name: str, value: str, max_age: int, secure: bool) -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = max_age
    if secure:
        cookie["secure"] = True


def safe_next(target: Optional[str]) -> str:
    """Only a path on this site: never an open redirect. By default the home page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def client_ip(request) -> str:
    """The address a request comes from (see visitors/address.py)."""
    return client_address(request.ip, request.headers.getall("x-forwarded-for", []),
                          request.app.ctx.trusted_proxies)


def create_app(dbs: Optional[Databases] = None, secret: Optional[bytes] = None,
               secure_cookies: bool = False, trusted_proxies: Optional[str] = None,
               spool: Optional[Path] = None, port: int = 8090, watch: bool = False) -> Sanic:
    """The app. trusted_proxies defaults to CONSOLE_TRUSTED_PROXIES, spool to TRACKER_SPOOL_DB
    or <VAR_DIR>/tracker-spool.db; the idle timeout, CONSOLE_PUBLIC_URL (default
    http://localhost:<port>) and the NOTIFY_* settings come from the environment (ValueError if
    one is malformed). watch: index and notify in a thread while serving."""
    if trusted_proxies is None:
        trusted_proxies = os.environ.get("CONSOLE_TRUSTED_PROXIES", "")
    trusted = parse_trusted(trusted_proxies)
    idle = auth.idle_seconds()
    public = notify.public_url(os.environ, port)
    mail = notify.MailSettings.from_env(os.environ, port)
    poll, retry = notify.settings()
    app = Sanic(f"clinic_console_{next(_names)}")
    app.config.REQUEST_MAX_SIZE = 64 * 1024  # forms only: a note is a few kB
    app.ctx.dbs = dbs or Databases()
    app.ctx.secret = secret or auth.load_secret()
    app.ctx.secure = secure_cookies
    app.ctx.trusted_proxies = trusted
    app.ctx.spool = spool or spool_path()
    app.ctx.idle = idle
    app.ctx.public_url = public
    app.ctx.poll = poll
    app.ctx.watcher = notify.Watcher(app.ctx.dbs, mail, poll, retry) if watch else None

    @app.listener("after_server_start")
    async def start_watching(app, _loop):
        if app.ctx.watcher is not None:
            app.ctx.watcher.start()

    @app.listener("before_server_stop")
    async def stop_watching(app, _loop):
        if app.ctx.watcher is not None:
            app.ctx.watcher.stop()

    @app.middleware("request")
    async def require_login(request):
        if request.path == HEALTH_PATH:
            return None  # answers even when the console's own database does not
        dbs, secret = request.app.ctx.dbs, request.app.ctx.secret
        token = request.cookies.get(SESSION_COOKIE)
        passive = request.path in PASSIVE_PATHS
        found, idled = auth.session_user(dbs, token, request.app.ctx.idle, touch=not passive)
        if idled:
            log(dbs, idled, "logout_idle",
                f"after {request.app.ctx.idle / 60:g} minutes without a request")
        request.ctx.user = found.username if found else None
        request.ctx.user_id = found.id if found else None
        request.ctx.admin = bool(found and found.admin)
        request.ctx.csrf = auth.csrf_token(secret, "session:" + token) if found else ""
        if request.method == "POST":
            # Sanic runs request middleware before it has read a large body: read it now, so the
            # CSRF check sees the form (and an oversized body is refused with 413).
            await request.receive_body()
        if request.path in OPEN_PATHS:
            return None
        if not found:
            if wants_json(request):
                return error(request, 401, "log in first", True)
            return response.redirect("/login?next=" + quote(request.path) +
                                     ("&idle=1" if idled else ""), status=302)
        if request.method == "POST" and not auth.csrf_ok(
                secret, "session:" + token, form_values(request).get("csrf")):
            return error(request, 403, "the form has expired: go back, reload and try again",
                         wants_json(request))
        if not passive:
            indexer.index_all(dbs)  # bring the summary up to the latest events first
        return None

    @app.middleware("response")
    async def headers(request, resp):
        add_security_headers(request, resp)

    @app.exception(BadInput)
    async def bad_input(request, exc):
        return error(request, 400, str(exc), wants_json(request))

    @app.exception(NotFound)
    async def not_found(request, exc):
        return error(request, 404, "no such page or conversation", wants_json(request))

    @app.exception(SanicException)
    async def sanic_error(request, exc):
        status = getattr(exc, "status_code", 500) or 500
        return error(request, status, str(exc) if status < 500 else "server error",
                     wants_json(request))

    @app.get("/login")
    async def login_form(request):
        return _login_page(request, status=200)

    @app.post("/login")
    async def login(request):
        dbs, secret = request.app.ctx.dbs, request.app.ctx.secret
        form = form_values(request)
        pre = request.cookies.get(PRE_LOGIN_COOKIE)
        if not auth.csrf_ok(secret, "login:" + (pre or ""), form.get("csrf")) or not pre:
            return _login_page(request, 403, "The form expired. Please try again.")
        username = form.get("username", "").strip()[:64]
        address = client_ip(request)
        wait = auth.wait_seconds(dbs, username, address)
        if wait:
            logger.warning("console login refused: too many failures, %d s to wait", wait)
            page = _login_page(request, 429, f"Too many failed attempts. Try again in {wait} s.")
            page.headers["Retry-After"] = str(wait)
            return page
        user_id = auth.authenticate(dbs, username, form.get("password", ""))
        if user_id is None:
            auth.record_failure(dbs, username, address)
            # No user name and no address in the log: they are personal data.
            logger.warning("failed console login")
            return _login_page(request, 401, "Wrong user name or password.")
        auth.clear_failures(dbs, username, address)
        log(dbs, username, "login", f"from {address}")
        notify.seen(dbs, user_id)  # the badges count what comes from now on
        resp = response.redirect(safe_next(form.get("next")), status=303)
        set_cookie(resp, SESSION_COOKIE, auth.start_session(dbs, user_id, request.app.ctx.idle),
                   auth.SESSION_SECONDS, request.app.ctx.secure)
        set_cookie(resp, PRE_LOGIN_COOKIE, "", 0, request.app.ctx.secure)
        return resp

    @app.post("/logout")
    async def logout(request):
        auth.end_session(request.app.ctx.dbs, request.cookies.get(SESSION_COOKIE))
        log(request.app.ctx.dbs, request.ctx.user, "logout")
        resp = response.redirect("/login", status=303)
        set_cookie(resp, SESSION_COOKIE, "", 0, request.app.ctx.secure)
        return resp

    views.register(app)
    return app


def _login_page(request, status: int, message: str = ""):
    """The login form, with a CSRF token bound to a pre-login cookie."""
    app = request.app
    pre = request.cookies.get(PRE_LOGIN_COOKIE)
    fresh = not pre or len(pre) > 100
    if fresh:
        pre = secrets.token_urlsafe(24)
    if not message and request.args.get("idle") == "1":
        minutes = f"{app.ctx.idle / 60:g}"
        message = (f"You were logged out after {minutes} minutes without activity. "
                   "Please log in again.")
    page = html(request, "login.html", status=status, message=message, user=None,
                csrf=auth.csrf_token(app.ctx.secret, "login:" + pre),
                next=safe_next(request.args.get("next") or form_values(request).get("next")),
                no_users=auth.user_count(app.ctx.dbs) == 0)
    if fresh:
        set_cookie(page, PRE_LOGIN_COOKIE, pre, 3600, app.ctx.secure)
    return page
