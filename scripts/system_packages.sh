#!/usr/bin/env bash
# Debian packages the tests and servers need beyond Python: Chromium (the widget and console
# browser tests) and nginx (the console behind a reverse proxy). Installed when missing and we
# are root; otherwise prints the exact command and fails. Returns at once when all are there.
set -euo pipefail

declare -A wanted=([chromium]=chromium [nginx]=nginx)
missing=()
for command in "${!wanted[@]}"; do
  if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
    missing+=("${wanted[$command]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "setup: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx as a service on port 80; the project runs its own instances.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
pkill -x nginx 2>/dev/null || true
