#!/usr/bin/env bash
# The whole test suite (`make test`, and CI through .ci/run): data validation, dialogue test
# stories, then pytest (unit, NLU and triage on the frozen test sets, end-to-end over REST,
# browser, console, and the benchmark harness on a tiny load): README, "Tests".
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1
# Rasa's own commands: hide third-party warnings (pytest.ini filters them for the tests).
export PYTHONWARNINGS="ignore::DeprecationWarning,ignore::PendingDeprecationWarning,ignore::UserWarning"

echo "== rasa data validate"
.venv/bin/rasa data validate --fail-on-warnings --quiet

echo "== rasa test core (dialogue test stories)"
.venv/bin/rasa test core --model models/clinic.tar.gz --stories tests/test_stories.yml \
  --fail-on-prediction-errors --out results/core --quiet

echo "== pytest"
.venv/bin/python -m pytest "$@"
