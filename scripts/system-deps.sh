#!/usr/bin/env bash
# Installs the system packages the browser and PostgreSQL test tiers need, where they are missing:
# Debian's chromium (Playwright drives it; never `playwright install`), postgresql (a throwaway cluster) and
# redis-server (the Celery broker of the job-queue tests; started by the tests on a free port, never as a service).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing ${need[*]}; install them with your package manager (needs root + apt)" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" fonts-dejavu-core >/dev/null
