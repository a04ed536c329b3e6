#!/usr/bin/env bash
# scripts/demo.sh on ports taken from the environment (DEMO_PORT, DEMO_HEARTBEAT_PORT,
# DEMO_ADMIN_PORT, DEMO_BACKEND_PORTS), six free ones picked here, for 3 s with the binaries
# of BUILD_DIR: slb must listen, heartbeat and serve its admin endpoint where told, each
# backend listen on its port and register, requests be answered, and every port be free
# again once the demo is over.
# Usage: check_demo.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: check_demo.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "check_demo: $*" >&2; exit 1; }

# Ports the kernel hands out now; the demo binds them a moment later.
free_ports='import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))'
read -r -a p <<<"$(python3 -c "$free_ports")"
out=$(SLB_BIN_DIR=$build DEMO_SECONDS=3 DEMO_PORT=${p[0]} DEMO_HEARTBEAT_PORT=${p[1]} DEMO_ADMIN_PORT=${p[2]} \
	DEMO_BACKEND_PORTS="${p[3]} ${p[4]} ${p[5]}" "$src/scripts/demo.sh" 2>&1) || fail "demo.sh failed: $out"
log=$build/demo
grep -q "^slb on http://127.0.0.1:${p[0]}," <<<"$out" || fail "the demo did not say it serves on ${p[0]}: $out"
grep -q "listening on 127.0.0.1:${p[0]}:" "$log/slb.log" || fail "slb did not listen on ${p[0]}: $(head -3 "$log/slb.log")"
grep -q "heartbeat 127.0.0.1:${p[1]}, admin 127.0.0.1:${p[2]}," "$log/slb.log" ||
	fail "slb's heartbeat and admin ports are not ${p[1]} and ${p[2]}: $(head -3 "$log/slb.log")"
for i in 1 2 3; do
	grep -q "listening on 127.0.0.1:${p[i + 2]}," "$log/web$i.log" || fail "web$i did not listen on ${p[i + 2]}"
	grep -q "heartbeat to 127.0.0.1:${p[1]}: registered" "$log/web$i.log" || fail "web$i did not register"
done
answered=$(sed -n 's/^done: \([0-9]*\) requests answered.*/\1/p' <<<"$out")
((${answered:-0} >= 5)) || fail "only ${answered:-no} requests answered: $out"
# SO_REUSEADDR: the demo's closed connections in TIME_WAIT do not count, a listener does.
python3 -c 'import socket, sys
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(p)))
    s.listen()' "${p[@]}" 2>/dev/null || fail "a port is still listened on after the demo: ${p[*]}"
echo "check_demo: the demo ran on ports ${p[*]}, $answered requests answered"
