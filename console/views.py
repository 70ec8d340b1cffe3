"""The pages. Each answers as HTML, and as JSON at the same path with a .json suffix.

Every view of a transcript or of the callback queue, and every export, goes into the audit log
(queries.log); the audit log itself is for admins only (403 for others), and reading or
exporting it is logged too.
"""
import logging
from pathlib import Path
from typing import Tuple
from urllib.parse import quote

from sanic import response
from sanic.exceptions import Forbidden, NotFound
from sqlalchemy import desc, select
from sqlalchemy.exc import SQLAlchemyError

from console import charts, home, incidents, notify, queries, similarity
from console.db import events, index_state
from console.exports import nlu_stubs, to_csv, to_json
from console.filters import (
    AUTO_LABELS, BadInput, local_time, parse_filters, parse_label, parse_period, today,
)
from console.masking import mask
from console.queries import BADGE_LABELS
from console.responses import download, form_values, html, json

LIST_COLUMNS = ("sender_id", "started", "last_at", "length", "first_question", "callback",
                "handoff", "unanswered", "emergency", "possible", "reviewed", "labels")
CALLBACK_COLUMNS = ("id", "sender_id", "requested_at", "name", "phone", "preferred_time",
                    "pain", "question", "called", "note", "updated_by", "updated_at")
TRANSCRIPT_COLUMNS = ("id", "timestamp", "kind", "text", "intent", "confidence", "buttons",
                      "triage_level", "triage_flags")
AUDIT_COLUMNS = ("id", "time", "at", "actor", "action", "detail")
CALLBACK_STATUSES = ("open", "called", "all")
MAX_EXPORT_ROWS = 200000
SCRIPT = (Path(__file__).parent / "static" / "console.js").read_text(encoding="utf-8")
logger = logging.getLogger("console")


def audited(request, action: str, detail: str = "") -> None:
    queries.log(request.app.ctx.dbs, request.ctx.user, action, detail)


def _admin_only(request) -> None:
    if not request.ctx.admin:
        raise Forbidden("only an admin may read the audit log")


def split_format(name: str, formats: Tuple[str, ...] = ("json", "csv")) -> Tuple[str, str]:
    """"abc.json" -> ("abc", "json"); "abc" -> ("abc", "html")."""
    stem, dot, suffix = name.rpartition(".")
    return (stem, suffix) if dot and suffix in formats else (name, "html")


def _callback_status(request) -> str:
    status = request.args.get("status") or "open"
    if status not in CALLBACK_STATUSES:
        raise BadInput("status must be one of 'open', 'called', 'all'")
    return status


def _unmasked(request) -> bool:
    value = request.args.get("unmasked") or ""
    if value not in ("", "0", "1"):
        raise BadInput("unmasked must be 0 or 1")
    return value == "1"


def databases_answer(dbs) -> bool:
    """Whether the tracker store and the console's database both answer: one primary-key read
    from a table of each (a bare SELECT 1 would not even open a SQLite file)."""
    checks = (("tracker store", dbs.tracker, select(events.c.id).order_by(desc(events.c.id))),
              ("console database", dbs.console,
               select(index_state.c.last_event_id).where(index_state.c.id == 1)))
    for name, engine, query in checks:
        try:
            with engine.connect() as db:
                db.execute(query.limit(1)).first()
        except SQLAlchemyError as problem:
            logger.warning("health check: the %s does not answer (%s)", name,
                           type(problem).__name__)
            return False
    return True


def register(app) -> None:
    @app.get("/health")
    async def health(request):
        """For monitors and load balancers: no login, no data, only whether both databases
        answer (200 {"status": "ok"}) or not (503 {"status": "error"})."""
        if databases_answer(request.app.ctx.dbs):
            return json({"status": "ok"})
        return json({"status": "error"}, status=503)

    @app.get("/")
    @app.get("/home.json", name="home_json")
    async def home_page(request):
        """What is waiting today, then charts over a period (from/to, default the last 30
        days): counts only, no patient data, so not in the audit log (as the list)."""
        period = parse_period(request.args)
        day = today()
        data = home.figures(request.app.ctx.dbs, period, day)
        if request.path.endswith(".json"):
            return json(data)
        return html(request, "home.html", data=data, charts=charts.home_charts(data),
                    period=period, day=day, measures=home.MEASURES)

    @app.get("/conversations")
    @app.get("/conversations.json", name="conversations_json")
    async def conversation_list(request):
        dbs = request.app.ctx.dbs
        filters = parse_filters(request.args)
        found = queries.list_conversations(dbs, filters)
        if filters.emergency == "1":
            notify.mark_seen(dbs, request.ctx.user_id, "emergency")
        if request.path.endswith(".json"):
            return json(dict(found, filters=filters.query_args()))
        return html(request, "conversations.html", found=found, filters=filters,
                    intents=queries.intents(dbs), badges=BADGE_LABELS, today=today(),
                    auto_labels=list(AUTO_LABELS), label_names=queries.label_names(dbs))

    @app.get("/export/<name:str>")
    async def export_list(request, name: str):
        what, fmt = split_format(name)
        dbs = request.app.ctx.dbs
        if what == "conversations" and fmt != "html":
            filters = parse_filters(request.args)
            rows = queries.list_conversations(dbs, filters,
                                              paginate=False)["conversations"][:MAX_EXPORT_ROWS]
            audited(request, "export_conversations",
                    f"{fmt}, {len(rows)} rows, filters {filters.query_args(page=1)}")
            if fmt == "json":
                return download(to_json(rows), "conversations.json", "application/json")
            rows = [dict(row, labels="; ".join(row["labels"])) for row in rows]
            return download(to_csv(rows, LIST_COLUMNS), "conversations.csv", "text/csv")
        if what == "callbacks" and fmt != "html":
            unmasked = _unmasked(request)
            status = _callback_status(request)
            rows = queries.callback_queue(dbs, status)
            audited(request, "export_unmasked_callbacks" if unmasked else "export_callbacks",
                    f"{fmt}, status={status}, {len(rows)} rows")
            if not unmasked:
                for row in rows:
                    row["phone"] = mask(row["phone"])
            if fmt == "json":
                return download(to_json(rows), "callbacks.json", "application/json")
            return download(to_csv(rows, CALLBACK_COLUMNS), "callbacks.csv", "text/csv")
        raise NotFound("no such export")

    @app.get("/conversations/<name:str>")
    async def conversation_page(request, name: str):
        dbs = request.app.ctx.dbs
        sender_id, fmt = split_format(name)
        found = queries.conversation(dbs, sender_id)
        if found is None:
            raise NotFound("no such conversation")
        turns = queries.transcript(dbs, sender_id)
        audited(request, "view_transcript" if fmt == "html" else "export_transcript",
                f"{sender_id} ({fmt})")
        if fmt == "json":
            return json({"conversation": found, "transcript": turns})
        if fmt == "csv":
            rows = [dict(t, triage_flags=" ".join(t.get("triage_flags") or [])) for t in turns]
            return download(to_csv(rows, TRANSCRIPT_COLUMNS), f"{sender_id}.csv", "text/csv")
        return html(request, "transcript.html", conv=found, turns=turns, badges=BADGE_LABELS,
                    label_names=queries.label_names(dbs))

    @app.post("/conversations/<sender_id:str>/review")
    async def review(request, sender_id: str):
        dbs = request.app.ctx.dbs
        if queries.conversation(dbs, sender_id) is None:
            raise NotFound("no such conversation")
        form = form_values(request)
        queries.save_review(dbs, sender_id, form.get("reviewed") == "1", form.get("note", ""),
                            request.ctx.user)
        return response.redirect(f"/conversations/{sender_id}", status=303)

    @app.post("/conversations/<sender_id:str>/labels")
    async def add_label(request, sender_id: str):
        """Puts a staff label on a conversation (audited); already there: nothing changes."""
        dbs = request.app.ctx.dbs
        if queries.conversation(dbs, sender_id) is None:
            raise NotFound("no such conversation")
        label = parse_label(form_values(request).get("label", ""))
        if queries.add_label(dbs, sender_id, label, request.ctx.user):
            audited(request, "label_add", f"{sender_id}: {label}")
        return response.redirect(f"/conversations/{quote(sender_id, safe='')}", status=303)

    @app.post("/conversations/<sender_id:str>/labels/remove")
    async def remove_label(request, sender_id: str):
        """Takes a staff label off (audited); automatic labels cannot be removed (400)."""
        dbs = request.app.ctx.dbs
        if queries.conversation(dbs, sender_id) is None:
            raise NotFound("no such conversation")
        label = parse_label(form_values(request).get("label", ""))
        if queries.remove_label(dbs, sender_id, label):
            audited(request, "label_remove", f"{sender_id}: {label}")
        return response.redirect(f"/conversations/{quote(sender_id, safe='')}", status=303)

    @app.get("/callbacks")
    @app.get("/callbacks.json", name="callbacks_json")
    async def callback_page(request):
        status = _callback_status(request)
        dbs = request.app.ctx.dbs
        # One screenful: the oldest open requests first, those from one number merged (the
        # exports have every request).
        found = queries.callback_entries(dbs, status, limit=queries.QUEUE_PAGE)
        audited(request, "view_callbacks",
                f"status={status} ({'json' if request.path.endswith('.json') else 'html'})")
        notify.mark_seen(dbs, request.ctx.user_id, "callback")
        if request.path.endswith(".json"):
            return json(dict(found, status=status))
        return html(request, "callbacks.html", callbacks=found["callbacks"], shown=status,
                    total=found["total"], requests=found["requests"], statuses=CALLBACK_STATUSES)

    @app.post("/callbacks/<callback_id:int>/called")
    async def mark_called(request, callback_id: int):
        dbs = request.app.ctx.dbs
        if not queries.callback_exists(dbs, callback_id):
            raise NotFound("no such callback request")
        form = form_values(request)
        called = form.get("called") == "1"
        marked = queries.save_callback_mark(dbs, callback_id, called, form.get("note", ""),
                                            request.ctx.user)
        queries.log(dbs, request.ctx.user, "callback_called" if called else "callback_open",
                    "requests " + ", ".join(str(i) for i in marked))
        back = form.get("status") if form.get("status") in CALLBACK_STATUSES else "open"
        return response.redirect(f"/callbacks?status={back}", status=303)

    @app.get("/unanswered")
    @app.get("/unanswered.json", name="unanswered_json")
    @app.get("/unanswered.yml", name="unanswered_yml")
    async def unanswered(request):
        filters = parse_filters(request.args)
        groups = similarity.group(queries.unanswered_messages(request.app.ctx.dbs, filters))
        if request.path.endswith(".yml"):
            audited(request, "export_unanswered",
                    f"yml, {len(groups)} groups, filters {filters.query_args(page=1)}")
            return download(nlu_stubs(groups), "unanswered_nlu.yml", "application/x-yaml")
        if request.path.endswith(".json"):
            return json({"filters": filters.query_args(), "groups": [
                dict(g, texts=[{"text": t, "count": c} for t, c in g["texts"]]) for g in groups]})
        return html(request, "unanswered.html", groups=groups, filters=filters)

    @app.get("/incidents")
    @app.get("/incidents.json", name="incidents_json")
    async def incident_list(request):
        try:
            found = incidents.recent(request.app.ctx.spool)
        except incidents.Unreadable:
            found = None
        if request.path.endswith(".json"):
            if found is None:
                return json({"error": "the incident record could not be read"}, status=503)
            return json(found)
        return html(request, "incidents.html", found=found)

    @app.get("/notifications.json")
    async def notifications_json(request):
        """For the pages' script: unseen notifications of this account (no patient data). It
        does not keep an idle session alive (web.PASSIVE_PATHS)."""
        return json(notify.unseen(request.app.ctx.dbs, request.ctx.user_id,
                                  request.app.ctx.public_url))

    @app.get("/console.js")
    async def console_script(request):
        """The pages' only script (the badge, browser notifications): from here, as the
        Content-Security-Policy allows ('self'), never inline."""
        return response.text(SCRIPT, content_type="text/javascript; charset=utf-8")

    @app.get("/audit")
    @app.get("/audit.json", name="audit_json")
    @app.get("/audit.csv", name="audit_csv")
    async def audit_log(request):
        _admin_only(request)
        dbs = request.app.ctx.dbs
        if request.path.endswith(".csv"):
            rows = queries.audit_rows(dbs, MAX_EXPORT_ROWS)
            audited(request, "export_audit", f"csv, {len(rows)} rows")
            for row in rows:
                row["time"] = local_time(row["at"])
            return download(to_csv(rows, AUDIT_COLUMNS), "audit.csv", "text/csv")
        page = parse_filters({"page": request.args.get("page") or "1"}).page
        found = queries.audit_page(dbs, page)
        audited(request, "view_audit",
                f"page {page} ({'json' if request.path.endswith('.json') else 'html'})")
        if request.path.endswith(".json"):
            return json(found)
        return html(request, "audit.html", found=found)
