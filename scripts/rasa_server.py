"""Starts the Rasa server (`rasa run ...`) with what must not be on its command line:

    RASA_API_TOKEN=... python -m scripts.rasa_server --model ... --endpoints ... [rasa run options]

- the HTTP API token comes from RASA_API_TOKEN (or the file named by RASA_API_TOKEN_FILE) and
  is added to the arguments inside this process: /proc/<pid>/cmdline, which every local user can
  read, shows only what the launcher passed;
- the public request-size limit (SANIC_REQUEST_MAX_SIZE) is set here, for this server only;
- our patch of Rasa's action-reply validation (channels/action_validation.py) is installed
  before Rasa starts, once, and logged.
"""
import os
import sys

# Sanic accepts 100 MB request bodies by default; a chat message needs a few kB. Only the public
# Rasa server gets this limit: the action server receives whole conversations.
MAX_REQUEST_BYTES = 64 * 1024


def api_token() -> str:
    token = os.environ.get("RASA_API_TOKEN", "")
    path = os.environ.get("RASA_API_TOKEN_FILE")
    if not token and path:
        with open(path, encoding="utf-8") as handle:
            token = handle.read().strip()
    if len(token) < 16:
        raise SystemExit("scripts.rasa_server: set RASA_API_TOKEN or RASA_API_TOKEN_FILE "
                         "(16+ characters).")
    return token


def main() -> None:
    token = api_token()
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_REQUEST_BYTES))
    from channels import action_validation
    from rasa.__main__ import main as rasa_main

    action_validation.install()
    # One argument with "=": a random token can start with "-", which argparse would take for
    # an option of its own.
    sys.argv = ["rasa", "run", *sys.argv[1:], "--enable-api", f"--auth-token={token}"]
    rasa_main()


if __name__ == "__main__":
    main()
