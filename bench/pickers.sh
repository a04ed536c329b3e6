#!/usr/bin/env bash
# bench/pickers.sh: roundrobin, leastconn and p2c with one slow backend, on loopback.
#
#   bench/pickers.sh [--duration S] [--delay MS] [--conns C] [--workers N] [--build DIR]
#
# Two slb-backends answer at once, a third (benchtool.py slow-backend) answers each request
# after --delay MS (default 50). For each picker a fresh slb (--workers N, default 2) runs
# under wrk -c C (default 50) with "Connection: close" for S seconds (default 10), so every
# request is a new connection and so a new pick. Prints, per picker, the share of connections
# slb sent to the slow backend (from /status total_conns), req/s and p50/p99 latency.
# Uses the slb binaries in --build DIR (default build/); builds nothing. See bench/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
TOOL=(python3 "$HERE/lib/benchtool.py")
duration=10 delay=50 conns=50 workers=2 build=$REPO/build

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0"
}

while (($#)); do
	case "$1" in
	--duration) duration=${2:?}; shift ;;
	--delay) delay=${2:?}; shift ;;
	--conns) conns=${2:?}; shift ;;
	--workers) workers=${2:?}; shift ;;
	--build) build=${2:?}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "pickers.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
for v in "$duration" "$delay" "$conns" "$workers"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "pickers.sh: numbers only" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "pickers.sh: wrk is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	pids=()
}
trap cleanup EXIT INT TERM

read -r p_fast1 p_fast2 p_slow p_lb p_admin <<<"$("${TOOL[@]}" ports 5)"
"$build/slb-backend" --listen "127.0.0.1:$p_fast1" --name fast1 >/dev/null 2>&1 &
pids+=($!)
"$build/slb-backend" --listen "127.0.0.1:$p_fast2" --name fast2 >/dev/null 2>&1 &
pids+=($!)
"${TOOL[@]}" slow-backend "$p_slow" "$delay" >/dev/null 2>&1 &
pids+=($!)
for p in "$p_fast1" "$p_fast2" "$p_slow"; do
	"${TOOL[@]}" wait-port "$p" 5 "$$" || { echo "pickers.sh: backend on $p did not start" >&2; exit 1; }
done
backends=(--backend "127.0.0.1:$p_fast1" --backend "127.0.0.1:$p_fast2" --backend "127.0.0.1:$p_slow")

echo "| picker | slow backend's share of connections | req/s | p50 | p99 | wrk errors |"
echo "|---|--:|--:|--:|--:|--:|"
for picker in roundrobin leastconn p2c; do
	"$build/slb" --listen "127.0.0.1:$p_lb" --admin "127.0.0.1:$p_admin" --workers "$workers" --no-pin \
		--balance "$picker" "${backends[@]}" --log-level warn >/dev/null 2>&1 &
	slb=$!
	pids+=("$slb")
	"${TOOL[@]}" wait-port "$p_lb" 5 "$slb" || { echo "pickers.sh: slb did not start" >&2; exit 1; }
	out=$(timeout $((duration + 30)) wrk -t1 -c"$conns" -d"${duration}s" --latency --timeout 5s \
		-H 'Connection: close' "http://127.0.0.1:$p_lb/")
	read -r mine total <<<"$("${TOOL[@]}" conns "$p_admin" "127.0.0.1:$p_slow")"
	kill -TERM "$slb"
	wait "$slb" 2>/dev/null || true
	unset 'pids[${#pids[@]}-1]'
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	errs=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
	share=$(awk -v m="$mine" -v t="$total" 'BEGIN { printf "%.1f%% (%d of %d)", t ? 100 * m / t : 0, m, t }')
	echo "| $picker | $share | $rps | $p50 | $p99 | ${errs:-0} |"
done
