#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (idempotent; a no-op when all are present).
# Each tests/deps/*.txt lists "command package" pairs, one per line; '#' starts a comment.
# A "command" that starts with / is a file the package installs (fonts have no command).
set -euo pipefail
cd "$(dirname "$0")"
need=()
while read -r cmd pkg _; do
  [[ -z "${cmd:-}" || "$cmd" == \#* ]] && continue
  if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] || need+=("$pkg"); continue; fi
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || [ -x "/usr/bin/$cmd" ] || need+=("$pkg")
done < <(cat deps/*.txt)
if ((${#need[@]})); then
  if [ "$(id -u)" -ne 0 ]; then echo "missing packages: ${need[*]} (run as root or install them)" >&2; exit 1; fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # slapd: no default database or admin password prompt (the tests run their own server).
  command -v debconf-set-selections >/dev/null 2>&1 && \
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
# Debian starts packaged servers on install; the tests start their own on free ports.
for svc in prometheus nginx squid redis-server postgresql slapd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled "$svc" >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
