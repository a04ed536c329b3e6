#!/usr/bin/env bash
# The main job, end to end: installs what is missing, builds, starts slb on 127.0.0.1:8080
# in front of three demo backends that register by heartbeat and crash at random (each is
# restarted 0.3 s later), and sends requests through slb while they crash. Prints which
# backend answered each request, slb's view from its admin endpoint, and a final count.
# Runs for DEMO_SECONDS (default 30), then stops everything it started.
# The ports, all on 127.0.0.1, come from the environment, for a shared host where the
# defaults are taken: DEMO_PORT (slb's clients, 8080), DEMO_HEARTBEAT_PORT (9000),
# DEMO_ADMIN_PORT (9001) and DEMO_BACKEND_PORTS (three ports, "8001 8002 8003").
# SLB_BIN_DIR=DIR runs the binaries already built in DIR instead (no install, no build), as
# the test of this script does (tests/demo/check_demo.sh).
# Usage: [DEMO_PORT=18080 ...] scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a BACKEND_PORTS <<<"${DEMO_BACKEND_PORTS:-8001 8002 8003}"
ports=("${DEMO_PORT:-8080}" "${DEMO_HEARTBEAT_PORT:-9000}" "${DEMO_ADMIN_PORT:-9001}" "${BACKEND_PORTS[@]}")
if ((${#BACKEND_PORTS[@]} != 3)); then
	echo "demo: DEMO_BACKEND_PORTS needs three ports, got '${DEMO_BACKEND_PORTS:-}'" >&2
	exit 2
fi
for p in "${ports[@]}"; do
	if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then
		echo "demo: '$p' is not a port (1-65535); see DEMO_PORT and the others in scripts/demo.sh" >&2
		exit 2
	fi
done
if (($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) != ${#ports[@]})); then
	echo "demo: the ports must differ: ${ports[*]}" >&2
	exit 2
fi
LISTEN=127.0.0.1:${ports[0]}
HEARTBEAT=127.0.0.1:${ports[1]}
ADMIN=127.0.0.1:${ports[2]}
SECONDS_TO_RUN=${DEMO_SECONDS:-30}
BIN=${SLB_BIN_DIR:-build}
LOGDIR=$BIN/demo

if [[ -z ${SLB_BIN_DIR:-} ]]; then
	scripts/install-deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc)" >/dev/null
fi
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

"$BIN/slb" --listen "$LISTEN" --heartbeat-listen "$HEARTBEAT" --admin "$ADMIN" \
	--heartbeat-interval 1000 --heartbeat-timeout 3000 >"$LOGDIR/slb.log" 2>&1 &
slb_pid=$!
pids+=("$slb_pid")
for _ in $(seq 50); do
	curl -s -o /dev/null "http://$ADMIN/status" && break
	kill -0 "$slb_pid" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$slb_pid" 2>/dev/null; then
	echo "demo: slb did not start:" >&2
	tail -3 "$LOGDIR/slb.log" >&2
	echo "demo: if a port is taken, pick others: DEMO_PORT, DEMO_HEARTBEAT_PORT, DEMO_ADMIN_PORT, DEMO_BACKEND_PORTS" >&2
	exit 1
fi

# One supervisor per backend: run it until it crashes, then start it again 0.3 s later.
# The running backend's PID is kept in a file so that cleanup can stop it by PID.
supervise() {
	local name=$1 port=$2 end=$3 child
	trap 'kill "$child" 2>/dev/null; exit 0' TERM
	while ((SECONDS < end)); do
		"$BIN/slb-backend" --listen "127.0.0.1:$port" --name "$name" --heartbeat "$HEARTBEAT" \
			--interval 1000 --crash-after random >>"$LOGDIR/$name.log" 2>&1 &
		child=$!
		wait "$child" || true
		((SECONDS < end)) || break
		if ! tail -1 "$LOGDIR/$name.log" | grep -q crashing; then
			echo "  !! $name stopped, not as planned: $(tail -1 "$LOGDIR/$name.log") (DEMO_BACKEND_PORTS picks others)"
			break
		fi
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
