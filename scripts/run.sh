#!/usr/bin/env bash
# `make run`: serves everything in the foreground under scripts/serve.py's supervision (the
# action server, the Rasa server, the demo page and the front-desk console); Ctrl-C stops them
# all. Settings (ports, paths, tokens) are read from the environment: README, "Run it, test it".
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m scripts.serve
