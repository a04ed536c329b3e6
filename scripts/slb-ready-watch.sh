#!/usr/bin/env bash
# slb-ready-watch: announces slb's service address by BGP only while slb is ready, and marks
# it as draining while slb drains.
#
# Polls slb's GET /ready every INTERVAL seconds and, when the answer changes, switches the two
# bird2 static protocols that hold the service route (etc/bird/slb-host.conf):
#   200                       -> PROTOCOL on, PROTOCOL_drain off: announced;
#   503 "draining" (SIGTERM)  -> PROTOCOL_drain on, PROTOCOL off: announced with the
#                                GRACEFUL_SHUTDOWN community, so the router's
#                                slb-nhgroup-sync gives no new bucket to this instance while
#                                the flows it carries keep theirs (docs/scale-out.md);
#   anything else (refused, another status), or no answer within TIMEOUT seconds twice in a
#   row -> both off: withdrawn.
# The new protocol is enabled before the old one is disabled, so a switch is never a
# withdrawal. TIMEOUT defaults to INTERVAL: a hung slb (stopped, or stuck in a loop) is
# withdrawn after two timeouts, within about three intervals, instead of after a fixed long
# wait; one late answer alone (a busy host) withdraws nothing, since a withdrawal moves every
# flow the instance carries. A dead slb (connection refused) is withdrawn at once.
# The commands are repeated every 25 polls as well, so a bird that restarted (its protocols
# disabled again by its config) is put right within a few seconds. One line per change on
# stdout. Stopped by SIGTERM or SIGINT, it disables both (withdraws the route) and exits 0.
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
done_cmd="" polls=0 timeouts=0

# Sets on/off to the protocols for the state (serve, drain, withdraw).
protocols_for() {
	case $1 in
	serve) on=$proto off=${proto}_drain ;;
	drain) on=${proto}_drain off=$proto ;;
	*) on="" off="$proto ${proto}_drain" ;;
	esac
}

# Applies a state: the new protocol first, so that announcing never pauses.
switch_to() {
	local p
	protocols_for "$1"
	if [[ -n $on ]]; then
		birdc -s "$sock" enable "$on" >/dev/null || return 1
	fi
	for p in $off; do
		birdc -s "$sock" disable "$p" >/dev/null || return 1
	done
}

# Stopped (systemctl stop, SIGTERM, Ctrl-C): withdraw the route, since nothing will follow
# /ready any more; slb-ready-watch@.service relies on it.
withdraw() {
	switch_to withdraw && echo "$(date +%T.%3N) slb-ready-watch: stopped -> withdraw ($proto off)"
	exit 0
}
trap withdraw TERM INT

# Sets want to serve, drain or withdraw from one GET /ready; a timeout (curl's 28) keeps the
# state as it was the first time.
ready_state() {
	local out rc=0
	out=$(curl -s --max-time "$timeout" -w '\n%{http_code}' "$url") || rc=$?
	if ((rc == 28)) && ((++timeouts < 2)) && [[ -n $done_cmd ]]; then
		want=$done_cmd
		return
	fi
	((rc == 28)) || timeouts=0
	if ((rc != 0)); then
		want=withdraw
		return
	fi
	case ${out##*$'\n'} in
	200) want=serve ;;
	503) [[ $out == *draining* ]] && want=drain || want=withdraw ;;
	*) want=withdraw ;;
	esac
}

while :; do
	ready_state
	polls=$((polls + 1))
	if [[ $want != "$done_cmd" ]] || ((polls % 25 == 0)); then
		if switch_to "$want"; then
			[[ $want != "$done_cmd" ]] && echo "$(date +%T.%3N) slb-ready-watch: $url -> $want ($proto${on:+: $on on})"
			done_cmd=$want
		fi
	fi
	sleep "$interval" &
	wait $! # a trap runs at once, not after the sleep
done
