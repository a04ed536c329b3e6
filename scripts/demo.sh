#!/usr/bin/env bash
# The main job, end to end: installs what is missing, builds, starts slb on 127.0.0.1:8080
# in front of three demo backends that register by heartbeat and crash at random (each is
# restarted 0.3 s later), and sends requests through slb while they crash. Prints which
# backend answered each request, slb's view from its admin endpoint, and a final count.
# Runs for DEMO_SECONDS (default 30), then stops everything it started.
# Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LISTEN=127.0.0.1:8080
HEARTBEAT=127.0.0.1:9000
ADMIN=127.0.0.1:9001
BACKEND_PORTS=(8001 8002 8003)
SECONDS_TO_RUN=${DEMO_SECONDS:-30}
LOGDIR=build/demo

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/*.log

pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

build/slb --listen "$LISTEN" --heartbeat-listen "$HEARTBEAT" --admin "$ADMIN" \
	--heartbeat-interval 1000 --heartbeat-timeout 3000 >"$LOGDIR/slb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	curl -s -o /dev/null "http://$ADMIN/status" && break
	sleep 0.1
done

# One supervisor per backend: run it until it crashes, then start it again 0.3 s later.
# The running backend's PID is kept in a file so that cleanup can stop it by PID.
supervise() {
	local name=$1 port=$2 end=$3 child
	trap 'kill "$child" 2>/dev/null; exit 0' TERM
	while ((SECONDS < end)); do
		build/slb-backend --listen "127.0.0.1:$port" --name "$name" --heartbeat "$HEARTBEAT" \
			--interval 1000 --crash-after random >>"$LOGDIR/$name.log" 2>&1 &
		child=$!
		wait "$child" || true
		((SECONDS < end)) || break
		echo "  !! $name crashed (as planned); restarting it in 0.3 s"
		sleep 0.3
	done
}
end=$((SECONDS + SECONDS_TO_RUN))
for i in "${!BACKEND_PORTS[@]}"; do
	supervise "web$((i + 1))" "${BACKEND_PORTS[$i]}" "$end" &
	pids+=($!)
done
sleep 0.5

echo "slb on http://$LISTEN, three backends crashing at random for ${SECONDS_TO_RUN} s:"
ok=0
failed=0
n=0
while ((SECONDS < end)); do
	n=$((n + 1))
	if answer=$(curl -s -m 2 -f "http://$LISTEN/"); then
		ok=$((ok + 1))
		echo "  request $n -> $answer"
	else
		failed=$((failed + 1))
		echo "  request $n FAILED"
	fi
	if ((n % 25 == 0)); then
		echo "  slb /status: $(curl -s "http://$ADMIN/status" |
			grep -o '"name":"[^"]*","state":"[^"]*"' | sed 's/"name"://; s/,"state":/ /; s/"//g' | tr '\n' ' ')"
	fi
	sleep 0.1
done
echo "done: $ok requests answered, $failed failed, while backends crashed $(grep -c crashing "$LOGDIR"/web*.log | awk -F: '{s+=$2} END {print s}') times"
echo "logs: $LOGDIR/ (slb.log shows every state change with its reason)"
