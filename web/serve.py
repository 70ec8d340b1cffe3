"""Serves the demo clinic page and the chat widget's files, with a strict Content-Security-Policy.

    .venv/bin/python web/serve.py --port 8080 --rasa-url http://localhost:5005

Only the files in FILES are served (no directory listing, no path from the request reaches the
file system). Everything the page says about the clinic (name, phone, area, services, whether
the initial consultation is free, address and hours when set) comes from clinic.yml in the
content folder (CLINIC_CONTENT_DIR, else content/), escaped; the Rasa server's address comes
from --rasa-url, so the page and its CSP name the same origin.
"""
import argparse
import html
import re
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Tuple
from urllib.parse import urlsplit

from clinic.content import (
    CONTENT_DIR,
    Clinic,
    load_clinic,
    placeholder_values,
)

WEB = Path(__file__).resolve().parent

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/demo.css": "demo.css",
    "/widget/clinic-chat.js": "widget/clinic-chat.js",
    "/widget/clinic-chat.css": "widget/clinic-chat.css",
}


def origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(rasa_origin: str) -> Dict[str, str]:
    # Scripts and styles only from this server (no inline code); the only connection the page
    # may open is to the Rasa server. No cookies are set, nothing is sent to third parties.
    policy = "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        f"connect-src {rasa_origin}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cache-Control": "no-cache",
    }


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def services_html(clinic: Clinic) -> str:
    """The clinic's services as a list (nothing when clinic.yml lists none)."""
    if not clinic.services:
        return ""
    items = "".join(
        f"\n        <li>{escape(service[:1].upper() + service[1:])}</li>" for service in clinic.services
    )
    return (f'<p>The treatments {escape(clinic.name)} offers:</p>\n'
            f'      <ul class="services">{items}\n      </ul>')


def details_html(clinic: Clinic) -> str:
    """The address and hours, each only when clinic.yml has it; else the phone number for them
    (the page never makes them up, as the bot never does)."""
    rows = [(label, value) for label, value in (("Address", clinic.address), ("Hours", clinic.hours))
            if value]
    if not rows:
        return (f'<p>For the address and opening hours, call <a href="{escape(clinic.tel_uri)}">'
                f'{escape(clinic.phone)}</a>.</p>')
    items = "".join(f"\n        <dt>{label}</dt><dd>{escape(value)}</dd>" for label, value in rows)
    return f'<dl class="details">{items}\n      </dl>'


PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render_page(template: str, rasa_url: str, content_dir: Path = CONTENT_DIR) -> str:
    """The page with every {{placeholder}} filled from clinic.yml, in one pass (a clinic's text
    that happens to contain "{{...}}" is never read as a placeholder); an unknown placeholder is
    an error, at start-up."""
    clinic = load_clinic(Path(content_dir) / "clinic.yml")
    answers = placeholder_values(clinic)  # the same wording as the bot's answers
    values = {  # text, escaped below
        "clinic_name": clinic.name,
        "phone": clinic.phone,
        "tel": clinic.tel_uri,
        "area": clinic.area,
        # "free initial consultation" only when clinic.yml says so, else "initial consultation"
        "initial_consultation": answers["initial_consultation"],
        "rasa_url": rasa_url,
    }
    values = {key: escape(value) for key, value in values.items()}
    # HTML built here from escaped pieces.
    values.update(services=services_html(clinic), details=details_html(clinic))

    def fill(match: "re.Match[str]") -> str:
        if match.group(1) not in values:
            raise ValueError(f"web page: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    return PLACEHOLDER.sub(fill, template)


class Handler(BaseHTTPRequestHandler):
    server_version = "clinic-web"
    sys_version = ""

    def __init__(self, *args, rasa_url: str, **kwargs) -> None:
        self.rasa_url = rasa_url
        self.headers_out = security_headers(origin(rasa_url))
        super().__init__(*args, **kwargs)

    def _body(self) -> Tuple[int, str, bytes]:
        path = self.path.split("?", 1)[0]
        if path == "/favicon.ico":
            return 204, "", b""
        if path == "/health":  # for the launcher and a load balancer; says nothing else
            return 200, "application/json", b'{"status": "ok"}\n'
        name = FILES.get(path)
        if name is None:
            return 404, "text/plain", b"Not found\n"
        file = WEB / name
        content_type = TYPES[file.suffix] + "; charset=utf-8"
        if file.suffix == ".html":
            return 200, content_type, render_page(file.read_text("utf-8"), self.rasa_url).encode()
        return 200, content_type, file.read_bytes()

    def _respond(self, with_body: bool) -> None:
        status, content_type, body = self._body()
        self.send_response(status)
        for key, value in self.headers_out.items():
            self.send_header(key, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (the http.server naming)
        self._respond(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(with_body=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-url", default="http://localhost:5005",
                        help="the Rasa server's address as the visitor's browser sees it")
    args = parser.parse_args()
    # Fail at start, not on the first request: a bad address or a broken content/clinic.yml.
    try:
        origin(args.rasa_url)
        render_page((WEB / "index.html").read_text("utf-8"), args.rasa_url)
    except ValueError as error:  # ContentError is a ValueError, too
        parser.error(str(error))
    server = ThreadingHTTPServer((args.host, args.port), partial(Handler, rasa_url=args.rasa_url))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
