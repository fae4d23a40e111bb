#!/usr/bin/env bash
# System packages and node modules the end-to-end tests use. Idempotent; quiet when all
# is present. Without root (or without the registries) it says what is missing and the
# tests that need it skip (under CI=true they fail).
set -uo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need_apt[*]} (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}") \
      >/tmp/realmgate-apt.log 2>&1 || echo "warning: apt-get install ${need_apt[*]} failed (see /tmp/realmgate-apt.log)"
  else
    echo "note: ${need_apt[*]} missing and cannot be installed here; tests needing them will skip"
  fi
fi

# Node packages pinned by package-lock.json files under tests/ (e.g. the OpenID Provider).
for lock in tests/*/package-lock.json; do
  [ -e "$lock" ] || continue
  dir=$(dirname "$lock")
  if [ ! -d "$dir/node_modules" ] || [ "$lock" -nt "$dir/node_modules" ]; then
    if command -v npm >/dev/null 2>&1; then
      echo "== npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || echo "warning: npm ci in $dir failed"
      touch "$dir/node_modules" 2>/dev/null || true
    else
      echo "note: npm missing; tests using $dir will skip"
    fi
  fi
done
exit 0
