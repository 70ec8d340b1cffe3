"""Serves the demo clinic page and the chat widget's files, with a strict Content-Security-Policy.

    .venv/bin/python web/serve.py --port 8080 --rasa-url http://localhost:5005

Only the files in FILES are served (no directory listing, no path from the request reaches the
file system). The page's clinic name and phone number come from content/clinic.yml, and the
Rasa server's address from --rasa-url, so the page and its CSP name the same origin.
"""
import argparse
import html
import sys
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Tuple
from urllib.parse import urlsplit

WEB = Path(__file__).resolve().parent
sys.path.insert(0, str(WEB.parent))
from actions.content import CONTENT_DIR, load_clinic  # noqa: E402  (needs the repo root)

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


def render_page(template: str, rasa_url: str) -> str:
    clinic = load_clinic(CONTENT_DIR / "clinic.yml")
    values = {
        "clinic_name": clinic.name,
        "phone": clinic.phone,
        "tel": clinic.tel_uri,
        "area": clinic.area,
        "rasa_url": rasa_url,
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", html.escape(value, quote=True))
    return template


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
