"""The pages. Each answers as HTML, and as JSON at the same path with a .json suffix."""
from typing import Tuple

from sanic import response
from sanic.exceptions import NotFound

from console import queries, similarity
from console.exports import nlu_stubs, to_csv, to_json
from console.filters import BadInput, parse_filters, today
from console.masking import mask
from console.queries import BADGE_LABELS
from console.responses import download, form_values, html, json

LIST_COLUMNS = ("sender_id", "started", "last_at", "length", "first_question", "callback",
                "handoff", "unanswered", "emergency", "reviewed")
CALLBACK_COLUMNS = ("id", "sender_id", "requested_at", "name", "phone", "preferred_time",
                    "question", "called", "note", "updated_by", "updated_at")
TRANSCRIPT_COLUMNS = ("id", "timestamp", "kind", "text", "intent", "confidence", "buttons")
CALLBACK_STATUSES = ("open", "called", "all")
MAX_EXPORT_ROWS = 200000


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


def register(app) -> None:
    @app.get("/")
    async def home(request):
        return response.redirect("/conversations", status=302)

    @app.get("/conversations")
    @app.get("/conversations.json", name="conversations_json")
    async def conversation_list(request):
        dbs = request.app.ctx.dbs
        filters = parse_filters(request.args)
        found = queries.list_conversations(dbs, filters)
        if request.path.endswith(".json"):
            return json(dict(found, filters=filters.query_args()))
        return html(request, "conversations.html", found=found, filters=filters,
                    intents=queries.intents(dbs), badges=BADGE_LABELS, today=today())

    @app.get("/export/<name:str>")
    async def export_list(request, name: str):
        what, fmt = split_format(name)
        dbs = request.app.ctx.dbs
        if what == "conversations" and fmt != "html":
            rows = queries.list_conversations(dbs, parse_filters(request.args),
                                              paginate=False)["conversations"][:MAX_EXPORT_ROWS]
            if fmt == "json":
                return download(to_json(rows), "conversations.json", "application/json")
            return download(to_csv(rows, LIST_COLUMNS), "conversations.csv", "text/csv")
        if what == "callbacks" and fmt != "html":
            unmasked = _unmasked(request)
            rows = queries.callback_queue(dbs, _callback_status(request))
            if unmasked:
                queries.log(dbs, request.ctx.user, "export_unmasked_callbacks",
                            f"{len(rows)} rows")
            else:
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
        if fmt == "json":
            return json({"conversation": found, "transcript": turns})
        if fmt == "csv":
            return download(to_csv(turns, TRANSCRIPT_COLUMNS), f"{sender_id}.csv", "text/csv")
        return html(request, "transcript.html", conv=found, turns=turns, badges=BADGE_LABELS)

    @app.post("/conversations/<sender_id:str>/review")
    async def review(request, sender_id: str):
        dbs = request.app.ctx.dbs
        if queries.conversation(dbs, sender_id) is None:
            raise NotFound("no such conversation")
        form = form_values(request)
        queries.save_review(dbs, sender_id, form.get("reviewed") == "1", form.get("note", ""),
                            request.ctx.user)
        return response.redirect(f"/conversations/{sender_id}", status=303)

    @app.get("/callbacks")
    @app.get("/callbacks.json", name="callbacks_json")
    async def callback_page(request):
        status = _callback_status(request)
        dbs = request.app.ctx.dbs
        # One screenful: the oldest open requests first (the exports have them all).
        rows = queries.callback_queue(dbs, status, limit=queries.QUEUE_PAGE)
        total = queries.callback_count(dbs, status)
        if request.path.endswith(".json"):
            return json({"status": status, "total": total, "callbacks": rows})
        return html(request, "callbacks.html", callbacks=rows, shown=status, total=total,
                    statuses=CALLBACK_STATUSES)

    @app.post("/callbacks/<callback_id:int>/called")
    async def mark_called(request, callback_id: int):
        dbs = request.app.ctx.dbs
        if not queries.callback_exists(dbs, callback_id):
            raise NotFound("no such callback request")
        form = form_values(request)
        queries.save_callback_mark(dbs, callback_id, form.get("called") == "1",
                                   form.get("note", ""), request.ctx.user)
        back = form.get("status") if form.get("status") in CALLBACK_STATUSES else "open"
        return response.redirect(f"/callbacks?status={back}", status=303)

    @app.get("/unanswered")
    @app.get("/unanswered.json", name="unanswered_json")
    @app.get("/unanswered.yml", name="unanswered_yml")
    async def unanswered(request):
        filters = parse_filters(request.args)
        groups = similarity.group(queries.unanswered_messages(request.app.ctx.dbs, filters))
        if request.path.endswith(".yml"):
            return download(nlu_stubs(groups), "unanswered_nlu.yml", "application/x-yaml")
        if request.path.endswith(".json"):
            return json({"filters": filters.query_args(), "groups": [
                dict(g, texts=[{"text": t, "count": c} for t, c in g["texts"]]) for g in groups]})
        return html(request, "unanswered.html", groups=groups, filters=filters)
