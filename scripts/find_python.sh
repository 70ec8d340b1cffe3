#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter (Rasa 3.6 supports 3.8-3.10 only;
# we pin 3.10). Honours PYTHON=/path/to/python. A pyenv shim named python3.10 can exist
# and still fail, so every candidate is actually run before it is accepted.
set -u

works() {
  [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1
}

if [ -n "${PYTHON:-}" ]; then
  if works "$PYTHON"; then echo "$PYTHON"; exit 0; fi
  echo "PYTHON=$PYTHON is not a working Python 3.10 interpreter." >&2
  exit 1
fi

candidates=()
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root 2>/dev/null)
  for p in "$root"/versions/3.10*/bin/python3.10; do candidates+=("$p"); done
fi
for p in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  candidates+=("$p")
done

for p in "${candidates[@]}"; do
  path=$(command -v "$p" 2>/dev/null) || continue
  if works "$path"; then echo "$path"; exit 0; fi
done

cat >&2 <<'MSG'
No working Python 3.10 found. Rasa 3.6 needs Python 3.10 (3.8-3.10 work upstream).
Install it, for example with `pyenv install 3.10` or Debian's python3.10 and python3.10-venv,
or point PYTHON= at an interpreter: make setup PYTHON=/path/to/python3.10
MSG
exit 1
