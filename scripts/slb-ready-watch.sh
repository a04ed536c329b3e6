#!/usr/bin/env bash
# slb-ready-watch: announces slb's service address by BGP only while slb is ready.
#
# Polls slb's GET /ready every INTERVAL seconds and, when the answer changes, enables (200)
# or disables (anything else, or no answer within TIMEOUT seconds) the bird2 static protocol
# that holds the service route (etc/bird/slb-host.conf), so bird announces or withdraws it.
# TIMEOUT defaults to INTERVAL: a hung slb (stopped, or stuck in a loop) is withdrawn within
# about two intervals, as a dead one is, instead of after a fixed long wait. The command is
# repeated every 25 polls as well, so a bird that restarted (its protocol disabled again by
# its config) is put right within a few seconds. One line per change on stdout. Stopped by
# SIGTERM or SIGINT, it disables the protocol (withdraws the route) and exits 0.
#
# Usage: slb-ready-watch.sh READY_URL BIRD_SOCKET [PROTOCOL [INTERVAL [TIMEOUT]]]
#   e.g. slb-ready-watch.sh http://127.0.0.1:9001/ready /run/bird/bird.ctl slb_vip 0.2
# Installed as slb-ready-watch, run by slb-ready-watch@.service (docs/scale-out.md).
set -u

if (($# < 2)); then
	echo "usage: $0 READY_URL BIRD_SOCKET [PROTOCOL [INTERVAL [TIMEOUT]]]" >&2
	exit 2
fi
url=$1 sock=$2 proto=${3:-slb_vip} interval=${4:-0.2}
timeout=${5:-$interval}
done_cmd="" polls=0

# Stopped (systemctl stop, SIGTERM, Ctrl-C): withdraw the route, since nothing will follow
# /ready any more; slb-ready-watch@.service relies on it.
withdraw() {
	birdc -s "$sock" disable "$proto" >/dev/null &&
		echo "$(date +%T.%3N) slb-ready-watch: stopped -> disable $proto"
	exit 0
}
trap withdraw TERM INT

while :; do
	if curl -fs -o /dev/null --max-time "$timeout" "$url"; then
		want=enable
	else
		want=disable
	fi
	polls=$((polls + 1))
	if [[ $want != "$done_cmd" ]] || ((polls % 25 == 0)); then
		if birdc -s "$sock" "$want" "$proto" >/dev/null; then
			[[ $want != "$done_cmd" ]] && echo "$(date +%T.%3N) slb-ready-watch: $url -> $want $proto"
			done_cmd=$want
		fi
	fi
	sleep "$interval" &
	wait $! # a trap runs at once, not after the sleep
done
