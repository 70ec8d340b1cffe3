#!/usr/bin/env bash
# Regenerates requirements.lock from requirements.in: resolves in a scratch virtual
# environment and pins every package it installed, transitive ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/find_python.sh)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.in
"$scratch/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
  -r requirements-nodeps.in
"$scratch/venv/bin/python" -m pip freeze --all | grep -v -E '^(pip|en[-_]clinic[-_]pipeline)[=@ ]' \
  | LC_ALL=C sort -f > requirements.lock
echo "lock: wrote requirements.lock ($(wc -l < requirements.lock) packages)"
