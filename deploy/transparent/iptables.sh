#!/usr/bin/env bash
# baomi transparent egress gateway, iptables/ip6tables edition (same rules as baomi.nft).
#
#   iptables.sh start    load the rules (idempotent: stops first; each table loads atomically)
#   iptables.sh stop     remove them (opens the gate: web traffic flows uninspected)
#   iptables.sh status   show baomi's chains
#   iptables.sh check    dry-run the rules (iptables-restore --test)
#
# Rules for traffic arriving on the LAN interfaces (see baomi.nft for the reasoning):
#   nat/PREROUTING  TCP 80/443 from the LAN networks -> REDIRECT to baomi's port (never TPROXY:
#                   mitmproxy reads SO_ORIGINAL_DST, which only NAT sets).
#   nat/OUTPUT      the gateway's own web traffic -> baomi, except baomi's user (no loop) and lo.
#   filter/FORWARD  fail closed: LAN TCP 80/443 that was not redirected is dropped, UDP 443 (QUIC)
#                   too. With baomi stopped, clients get "connection refused", never a direct route.
# Each setting can be overridden from the environment (systemd EnvironmentFile, tests).
set -euo pipefail

# --- site settings ------------------------------------------------------------------------------
LAN_IFS="${LAN_IFS:-eth1}"               # interfaces facing the clients (space-separated)
LAN_NET4="${LAN_NET4:-192.168.0.0/16}"   # client networks to inspect, IPv4 (space-separated)
LAN_NET6="${LAN_NET6:-fd00::/8}"         # client networks to inspect, IPv6 (space-separated)
WEB_PORTS="${WEB_PORTS:-80,443}"         # TCP ports that carry HTTP(S) (comma-separated)
BAOMI_PORT="${BAOMI_PORT:-8080}"         # baomi run --listen-port
BAOMI_USER="${BAOMI_USER:-baomi}"        # user baomi runs as on this host (must exist)
# --------------------------------------------------------------------------------------------------

# rules FAMILY NETS: an iptables-restore document for one address family.
rules() {
  local nets="$1" iface net
  echo "*nat"
  echo ":BAOMI_PREROUTING - [0:0]"
  echo ":BAOMI_OUTPUT - [0:0]"
  for iface in $LAN_IFS; do
    for net in $nets; do
      echo "-A BAOMI_PREROUTING -i $iface -s $net -p tcp -m multiport --dports $WEB_PORTS" \
           "-m comment --comment \"LAN web traffic to baomi\" -j REDIRECT --to-ports $BAOMI_PORT"
    done
  done
  echo "-A BAOMI_OUTPUT -m owner --uid-owner $BAOMI_USER -m comment --comment \"baomi own connections\" -j RETURN"
  echo "-A BAOMI_OUTPUT -o lo -j RETURN"
  echo "-A BAOMI_OUTPUT -p tcp -m multiport --dports $WEB_PORTS" \
       "-m comment --comment \"gateway own web traffic to baomi\" -j REDIRECT --to-ports $BAOMI_PORT"
  echo "-I PREROUTING 1 -j BAOMI_PREROUTING"
  echo "-I OUTPUT 1 -j BAOMI_OUTPUT"
  echo "COMMIT"
  echo "*filter"
  echo ":BAOMI_FORWARD - [0:0]"
  for iface in $LAN_IFS; do
    echo "-A BAOMI_FORWARD -i $iface -p tcp -m multiport --dports $WEB_PORTS" \
         "-m comment --comment \"fail closed: LAN web traffic never bypasses baomi\" -j DROP"
    echo "-A BAOMI_FORWARD -i $iface -p udp --dport 443 -m comment --comment \"no QUIC\" -j DROP"
  done
  echo "-I FORWARD 1 -j BAOMI_FORWARD"
  echo "COMMIT"
}

# unhook TOOL TABLE CHAIN OURS: remove every jump to our chain, then the chain itself.
unhook() {
  local tool="$1" table="$2" chain="$3" ours="$4"
  while "$tool" -w -t "$table" -D "$chain" -j "$ours" 2>/dev/null; do :; done
  if "$tool" -w -t "$table" -nL "$ours" >/dev/null 2>&1; then
    "$tool" -w -t "$table" -F "$ours"
    "$tool" -w -t "$table" -X "$ours"
  fi
}

stop_family() {
  local tool="$1"
  unhook "$tool" filter FORWARD BAOMI_FORWARD
  unhook "$tool" nat PREROUTING BAOMI_PREROUTING
  unhook "$tool" nat OUTPUT BAOMI_OUTPUT
}

start() {
  stop
  # Fail closed even between the two loads: each document puts the FORWARD drop in the same
  # transaction as the redirect.
  rules "$LAN_NET4" | iptables-restore -w --noflush
  rules "$LAN_NET6" | ip6tables-restore -w --noflush
}

stop() {
  stop_family iptables
  stop_family ip6tables
}

check() {
  rules "$LAN_NET4" | iptables-restore -w --noflush --test
  rules "$LAN_NET6" | ip6tables-restore -w --noflush --test
}

status() {
  iptables-save | grep -E '^\*|BAOMI_' || true
  ip6tables-save | grep -E '^\*|BAOMI_' || true
}

case "${1:-}" in
  start | stop | status | check) "$1" ;;
  *) echo "usage: $0 start|stop|status|check" >&2; exit 2 ;;
esac
