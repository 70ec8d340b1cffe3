"""HTML (Jinja2, autoescaped), JSON, CSV and YAML responses, and the security headers on all."""
from pathlib import Path
from typing import Any, Dict

from jinja2 import Environment, FileSystemLoader
from sanic import response

from clinic.names import BADGES
from console import incidents, notify
from console.exports import to_json
from console.charts import reason_text
from console.filters import AUTO_LABELS, local_time

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,  # every template, whatever its name: transcript text is visitor input
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["when"] = local_time
TEMPLATES.filters["reason_text"] = reason_text
# Automatic labels with no badge of their own ("not helpful", "non-English"): shown as badges too.
TEMPLATES.globals["label_badges"] = [name for name, column in AUTO_LABELS.items()
                                     if column not in BADGES]

HEADERS = {
    # One script, /console.js from the console itself (never inline, nothing third-party), which
    # may only call the console back (/notifications.json); styles inline in the base template.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
                               "style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def html(request, template: str, status: int = 200, **context: Any):
    """A page; for a logged-in user with the tracker store incident banner when one applies, and
    the counts of unseen notifications for the navigation's badges."""
    context.setdefault("user", getattr(request.ctx, "user", None))
    context.setdefault("csrf", getattr(request.ctx, "csrf", ""))
    context.setdefault("admin", getattr(request.ctx, "admin", False))
    if context["user"] and "store_alert" not in context:
        context["store_alert"] = incidents.alert(request.app.ctx.spool)
    user_id = getattr(request.ctx, "user_id", None)
    if context["user"] and user_id is not None and "notice" not in context:
        context["notice"] = notify.unseen(request.app.ctx.dbs, user_id, limit=0)
        context["poll_ms"] = int(request.app.ctx.poll * 1000)
    body = TEMPLATES.get_template(template).render(request=request, **context)
    return response.html(body, status=status)


def json(data: Any, status: int = 200):
    return response.text(to_json(data), status=status, content_type="application/json")


def download(body: str, filename: str, content_type: str):
    return response.text(body, content_type=content_type + "; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def error(request, status: int, message: str, wants_json: bool):
    if wants_json:
        return json({"error": message}, status=status)
    return html(request, "error.html", status=status, status_code=status, message=message)


def add_security_headers(_request, resp) -> None:
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)


def wants_json(request) -> bool:
    path = request.path
    return path.endswith((".json", ".csv", ".yml")) or \
        "application/json" in request.headers.get("accept", "")


def form_values(request) -> Dict[str, str]:
    return {k: (v[0] if v else "") for k, v in (request.form or {}).items()}
