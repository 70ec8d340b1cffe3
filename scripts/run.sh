#!/usr/bin/env bash
# Serves the assistant in the foreground (action server + Rasa server); Ctrl-C stops both.
# Ports and paths: RASA_PORT (5005), ACTION_PORT (5055), RASA_HOST (127.0.0.1),
# TRACKER_DB (var/tracker.db), RASA_API_TOKEN (random, written to var/api-token).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m scripts.serve
