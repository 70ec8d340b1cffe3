"""The action server, as `rasa run actions` would start it, but private by default:

    ACTION_SERVER_TOKEN=... python -m actions.server --port 5055

- it listens on ACTION_HOST (default 127.0.0.1), never on every interface unless told;
- /webhook and /actions answer only with `Authorization: Bearer <ACTION_SERVER_TOKEN>`, which the
  Rasa server sends (endpoints.yml, action_endpoint.headers); /health stays open and says nothing;
- no request-size limit of ours: Rasa posts the whole conversation session on every custom action
  (about 3 kB a turn), so a limit meant for the public chat would break long conversations.
The token comes from the environment, never the command line (which every local user can read).
"""
import argparse
import hmac
import logging
import os

from rasa_sdk.endpoint import create_app
from sanic import response

logger = logging.getLogger(__name__)
OPEN_PATHS = {"/health"}


def create_server(token: str):
    if len(token) < 16:
        raise SystemExit("actions.server: ACTION_SERVER_TOKEN must be set (16+ characters).")
    app = create_app("actions", cors_origins=None)
    expected = f"Bearer {token}".encode()

    @app.middleware("request")
    async def require_token(request):
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get("authorization") or "").encode()
        if not hmac.compare_digest(given, expected):
            logger.warning("action server: refused %s %s without the right token",
                           request.method, request.path)
            return response.json({"error": "unauthorised"}, status=401)
        return None

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("ACTION_PORT", 5055)))
    parser.add_argument("--host", default=os.environ.get("ACTION_HOST", "127.0.0.1"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_server(os.environ.get("ACTION_SERVER_TOKEN", ""))
    logger.info("action server listening on %s:%s", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
