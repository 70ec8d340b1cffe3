#!/usr/bin/env bash
# Debian packages the tests and servers need beyond Python: Chromium (the widget and console
# browser tests), nginx (the console behind a reverse proxy, and the cluster's front), and
# PostgreSQL and Redis (the cluster's tracker and lock stores: `make cluster`, tests/cluster).
# Installed when missing and we are root; otherwise prints the exact command and fails. Returns
# at once when all are there.
set -euo pipefail

# package -> how to tell it is there (Debian keeps initdb in /usr/lib/postgresql/<version>/bin)
found() {
  case "$1" in
    postgresql) command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    nginx) command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ;;
    *) command -v "$2" >/dev/null 2>&1 ;;
  esac
}
declare -A wanted=([chromium]=chromium [nginx]=nginx [postgresql]=initdb [redis-server]=redis-server)
missing=()
for package in "${!wanted[@]}"; do
  found "$package" "${wanted[$package]}" || missing+=("$package")
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
# Debian starts nginx, PostgreSQL and Redis as services on their usual ports; the project runs
# its own instances on ports of its own.
for service in nginx postgresql redis-server; do
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
done
pkill -x nginx 2>/dev/null || true
