#!/usr/bin/env bash
# Installs the Debian packages the tests need (scripts/system_packages.sh), creates .venv
# (Python 3.10) and installs the locked dependencies, the project's own spaCy pipeline (nlp/,
# installed editable so `rasa train` finds it by name) and the project itself (pyproject.toml). With nothing changed it returns
# in well under a second; a changed lock file or pipeline package triggers a reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/system_packages.sh

venv=.venv
stamp=$venv/.installed
wanted=$(cat requirements.lock nlp/pyproject.toml pyproject.toml | sha256sum | cut -c1-16)

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  exit 0
fi

python=$(scripts/find_python.sh)
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
  echo "setup: creating $venv with $python"
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi

echo "setup: installing requirements.lock into $venv (first time takes a few minutes)"
# --no-deps: the lock already lists every transitive package, so nothing unpinned sneaks in.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e nlp
# The project's own packages (pyproject.toml), editable: imported by name, no sys.path edits.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
# requirements-nodeps.in says which declared dependencies we leave out on purpose: medspacy's
# UMLS matcher, and everything wordllama's own Python package needs (we only read two data
# files from its wheel and never import it). Any other broken requirement fails the setup.
allowed=(
  'medspacy 1\.0\.0 requires medspacy-quickumls, which is not installed\.'
  'wordllama 0\.4\.0\.post1 requires toml, which is not installed\.'
  'wordllama 0\.4\.0\.post1 has requirement (numpy|pydantic)>=2, but you have \1 [0-9.]+\.'
)
problems=$("$venv/bin/python" -m pip check 2>&1 | grep -v -x -E -f <(printf '%s\n' "${allowed[@]}") || true)
if [ -n "$problems" ] && [ "$problems" != "No broken requirements found." ]; then
  echo "$problems" >&2
  exit 1
fi
echo "$wanted" > "$stamp"
echo "setup: done"
